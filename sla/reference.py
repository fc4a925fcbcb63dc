"""A per-process cache of the SLA reference data: rules (every version), calendars, department
calendars and category parents. Starting a clock reads rules and calendars; they change a few
times a year, so reading them from the database on every report or dispatch would cost queries
for nothing.

Freshness: a save or delete of any of them (signals in `sla.signals`, explicit calls after bulk
writes) clears this process's copy at once and again when the transaction commits, and bumps a
stamp in Django's cache, which other processes compare at most once a second (with a shared
cache such as Redis, they see an edit within a second); whatever the cache, each process
reloads at least every `SLA_REFERENCE_CACHE_SECONDS`. A thread whose transaction has written
reference data reads through a copy of its own until that transaction ends, so a rolled-back
edit never reaches the shared copy and other threads never see an uncommitted one.

A clock stores the rule version and calendar it started with, so a stale copy can only delay
which version *new* clocks pick up, never change a running clock.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from .calendars import WorkCalendar

STAMP_KEY = "sla:reference:stamp"
CHECK_SECONDS = 1.0
_UNSET = object()


@dataclass
class _Data:
    loaded_at: float = field(default_factory=time.monotonic)
    stamp: object = _UNSET
    rules: dict | None = None  # id -> SlaPolicy (every version)
    by_kind: dict | None = None  # kind -> active rules, most specific first
    has_group_rules: bool = False
    calendars: dict = field(default_factory=dict)  # id -> WorkCalendar
    departments: dict | None = None  # department id -> calendar id
    categories: dict | None = None  # id -> (parent id, name)


_data = _Data()
_state = {"checked": 0.0}
# .tx: this thread's copy while its transaction has written; .pending: the on-commit callback
# registered then, which Django drops if that transaction (or savepoint) rolls back.
_local = threading.local()


def _writing() -> bool:
    pending = getattr(_local, "pending", None)
    return connection.in_atomic_block and any(
        func is pending for _sids, func, *_rest in connection.run_on_commit
    )


def _fresh() -> _Data:
    """This process's copy, or this thread's while its transaction has written reference data."""
    global _data
    tx = getattr(_local, "tx", None)
    if tx is not None:
        if _writing():
            return tx
        # The writing transaction or savepoint rolled back (a commit would have cleared it).
        _local.tx = _local.pending = None
    now = time.monotonic()
    expired = now - _data.loaded_at > settings.SLA_REFERENCE_CACHE_SECONDS
    if expired or now - _state["checked"] > CHECK_SECONDS:
        _state["checked"] = now
        stamp = cache.get(STAMP_KEY)
        if expired or (_data.stamp is not _UNSET and stamp != _data.stamp):
            _data = _Data(stamp=stamp)
        elif _data.stamp is _UNSET:
            _data.stamp = stamp
    return _data


def clear() -> None:
    """Forget this process's copy (tests; after a commit)."""
    global _data
    _data = _Data()
    _local.tx = _local.pending = None
    _state["checked"] = 0.0


def invalidate() -> None:
    """Reference data changed: forget it here now, in every process after commit."""
    global _data
    _data = _Data()
    _state["checked"] = 0.0

    def after_commit() -> None:
        clear()
        cache.set(STAMP_KEY, uuid.uuid4().hex, None)

    if connection.in_atomic_block:
        _local.tx = _Data()
        _local.pending = after_commit
        transaction.on_commit(after_commit)
    else:
        after_commit()


# ---------------------------------------------------------------------- rules


def _rules(data: _Data) -> _Data:
    if data.rules is None:
        from .models import SlaPolicy

        rows = list(SlaPolicy.objects.all())
        by_kind: dict[str, list] = {}
        for r in sorted(rows, key=lambda r: (-r.specificity, r.pk)):
            if r.active:
                by_kind.setdefault(r.kind, []).append(r)
        data.by_kind = by_kind
        data.has_group_rules = any(r.category_group_id for r in rows if r.active)
        data.rules = {r.pk: r for r in rows}
    return data


def active_rules(kind: str) -> list:
    """Active rules of a clock kind, most specific first."""
    return _rules(_fresh()).by_kind.get(kind, [])


def all_rules() -> list:
    return list(_rules(_fresh()).rules.values())


def needs_group() -> bool:
    return _rules(_fresh()).has_group_rules


def rule(pk: int):
    """A rule version by id (a clock's), from the copy; read once when it is newer."""
    data = _rules(_fresh())
    found = data.rules.get(pk)
    if found is None:
        from .models import SlaPolicy

        found = SlaPolicy.objects.get(pk=pk)
        data.rules[pk] = found
    return found


# ---------------------------------------------------------------------- calendars


def calendar_of(pk: int | None) -> WorkCalendar | None:
    """The calendar value object for an id; None (natural time) for None."""
    if pk is None:
        return None
    data = _fresh()
    found = data.calendars.get(pk)
    if found is None:
        from .models import Calendar

        row = Calendar.objects.get(pk=pk)
        days = list(row.days.values_list("date", "kind"))
        found = WorkCalendar(
            weekly=row.weekly(),
            holidays=frozenset(d for d, k in days if k == "holiday"),
            workdays=frozenset(d for d, k in days if k == "workday"),
            id=row.pk,
            code=row.code,
            name=row.name,
        )
        data.calendars[pk] = found
    return found


def department_calendar_id(department_id: int | None) -> int | None:
    if department_id is None:
        return None
    data = _fresh()
    if data.departments is None:
        from .models import DepartmentCalendar

        data.departments = dict(
            DepartmentCalendar.objects.values_list("department_id", "calendar_id")
        )
    return data.departments.get(department_id)


# ---------------------------------------------------------------------- categories


def _categories(data: _Data) -> dict:
    if data.categories is None:
        from workorders.models import Category

        data.categories = {
            pk: (parent, name)
            for pk, parent, name in Category.objects.values_list("pk", "parent_id", "name")
        }
    return data.categories


def category_parent(pk: int) -> int | None:
    data = _fresh()
    cats = _categories(data)
    if pk not in cats:  # created since the copy was read
        data.categories = None
        cats = _categories(data)
    return cats.get(pk, (None, ""))[0]


def category_name(pk: int) -> str:
    data = _fresh()
    cats = _categories(data)
    if pk not in cats:
        data.categories = None
        cats = _categories(data)
    return cats.get(pk, (None, str(pk)))[1]
