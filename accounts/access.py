"""A per-process copy of each user's roles (group names) and permissions.

Every request checks rights, and reading them costs three queries (the user's groups, their
own permissions, their groups' permissions); they change when an administrator edits a user or
a group, a few times a week. So each process keeps them per user, keyed by the user's id and
join time (a reused id is another key).

Freshness, as in `sla.reference`: a change of group membership, of a group's or user's
permissions, or a save or delete of a user, group or permission (signals in
`accounts.signals`) clears this process's copy at once and again when the transaction commits,
and bumps a stamp in Django's cache that other processes compare at most once a second (with a
shared cache such as Redis they see the change within a second); whatever the cache, each
process reloads at least every `ACCESS_CACHE_SECONDS`. A thread whose transaction changed
rights reads them from the database, without storing them, until that transaction ends, so a
rolled-back change is never kept and other threads never see an uncommitted one.
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

STAMP_KEY = "accounts:access:stamp"
CHECK_SECONDS = 1.0
_UNSET = object()

_copy: dict = {}  # (user id, date joined) -> {"roles": frozenset, "perms": frozenset}
_state = {"loaded": time.monotonic(), "checked": 0.0, "stamp": _UNSET}
_local = threading.local()  # .pending: the on-commit callback of this thread's change


def _writing() -> bool:
    pending = getattr(_local, "pending", None)
    return (
        pending is not None
        and connection.in_atomic_block
        and any(func is pending for _sids, func, *_rest in connection.run_on_commit)
    )


def _fresh() -> dict | None:
    """This process's copy, or None while this thread's transaction has changed rights."""
    if _writing():
        return None
    now = time.monotonic()
    expired = now - _state["loaded"] > getattr(settings, "ACCESS_CACHE_SECONDS", 300)
    if expired or now - _state["checked"] > CHECK_SECONDS:
        _state["checked"] = now
        stamp = cache.get(STAMP_KEY)
        if expired or (_state["stamp"] is not _UNSET and stamp != _state["stamp"]):
            _copy.clear()
            _state["loaded"] = now
        _state["stamp"] = stamp
    return _copy


def _entry(user) -> dict:
    data = _fresh()
    key = (user.pk, user.date_joined)
    found = data.get(key) if data is not None else None
    if found is None:
        found = {}
        if data is not None:
            data[key] = found
    return found


def roles_of(user, load) -> frozenset[str]:
    """The user's role codes; `load()` reads them on a miss."""
    entry = _entry(user)
    if "roles" not in entry:
        entry["roles"] = frozenset(load())
    return entry["roles"]


def permissions_of(user, load) -> set[str]:
    """The user's permissions ("app.codename"); `load()` reads them on a miss."""
    entry = _entry(user)
    if "perms" not in entry:
        entry["perms"] = frozenset(load())
    return set(entry["perms"])


def clear() -> None:
    """Forget this process's copy (tests; after a commit)."""
    _copy.clear()
    _state.update(loaded=time.monotonic(), checked=0.0, stamp=_UNSET)
    _local.pending = None


def invalidate() -> None:
    """Rights changed: forget them here now, in every process after commit."""
    _copy.clear()

    def after_commit() -> None:
        clear()
        cache.set(STAMP_KEY, uuid.uuid4().hex, None)

    if connection.in_atomic_block:
        _local.pending = after_commit
        transaction.on_commit(after_commit)
    else:
        after_commit()
