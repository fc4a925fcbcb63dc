"""A per-process copy of the SLA reference data: rules (every version), calendars, department
calendars and category parents. Starting a clock reads rules and calendars; they change a few
times a year, so reading them from the database on every report or dispatch would cost queries
for nothing.

Freshness is `accounts.copies.ProcessCopy`'s, as for every such copy: a save or delete of any
of them (signals in `sla.signals`, explicit calls after bulk writes) calls `invalidate()`; each
process reloads at least every `SLA_REFERENCE_CACHE_SECONDS`. The parts are read on demand
into the copy's `_Data`.

A clock stores the rule version and calendar it started with, so a stale copy can only delay
which version *new* clocks pick up, never change a running clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.copies import ProcessCopy

from .calendars import WorkCalendar


@dataclass
class _Data:
    rules: dict | None = None  # id -> SlaPolicy (every version)
    by_kind: dict | None = None  # kind -> active rules, most specific first
    has_group_rules: bool = False
    calendars: dict = field(default_factory=dict)  # id -> WorkCalendar
    departments: dict | None = None  # department id -> calendar id
    categories: dict | None = None  # id -> (parent id, name)


_COPY: ProcessCopy[_Data] = ProcessCopy("sla.reference", _Data, "SLA_REFERENCE_CACHE_SECONDS")


def _fresh() -> _Data:
    """This process's copy, or this thread's while its transaction has written reference data."""
    return _COPY.get()


def clear() -> None:
    """Forget this process's copy (tests; after a commit)."""
    _COPY.clear()


def invalidate() -> None:
    """Reference data changed: forget it here now, in every process after commit."""
    _COPY.invalidate()


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
