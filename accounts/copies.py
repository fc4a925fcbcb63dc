"""Per-process copies of data that every request reads and that changes a few times a year:
users' rights (`accounts.access`), the SLA rules and calendars (`sla.reference`), the risk
rules (`workorders.services.risk`) and the SMS templates (`notifications.sms_channel`).
Reading them on every request cost queries (and the ORM's compiling of them) for nothing.

One freshness rule for all of them, decided here: any write to a copied table — a save or a
delete (signals), or a queryset's update, delete or bulk write (`ReferenceQuerySet`) — clears
this process's copy at once and again when the transaction commits, and bumps a stamp in
Django's cache that other processes compare at most once a second (with a shared cache such
as Redis they see the change within a second); whatever the cache, each process reloads at
least every `max_age` seconds (a setting). A thread whose transaction wrote the table reads
through a copy of its own, loaded after its last write, until that transaction ends, so a
rolled-back change is never kept and other threads never see an uncommitted one (or, with
`keep_while_writing=False`, reads the table afresh on every call until then).

It lives in `accounts`, the app every other one may import, so no app imports upwards for it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction

T = TypeVar("T")
CHECK_SECONDS = 1.0
_UNSET = object()
_copies: list[ProcessCopy] = []
_watched: dict[type, list[ProcessCopy]] = {}


class ProcessCopy(Generic[T]):
    """`get()` returns `load()`'s value, kept in this process until the table changes. The
    value may be a container the caller fills lazily (a dict of users' rights, the SLA
    reference's parts): what is filled is kept, or dropped, with it."""

    def __init__(
        self,
        name: str,
        load: Callable[[], T],
        max_age: str = "REFERENCE_COPY_SECONDS",
        keep_while_writing: bool = True,
    ):
        self.stamp_key = f"copies:{name}:stamp"
        self._load = load
        self._max_age = max_age  # the setting naming the longest a copy is kept, in seconds
        # False: a thread whose transaction wrote the table gets a new `load()` on every call
        # instead of a copy of its own for the rest of the transaction.
        self._keep_while_writing = keep_while_writing
        # .pending: the on-commit callback of this thread's write; .tx: its own copy meanwhile
        self._local = threading.local()
        self.clear()
        _copies.append(self)

    def _writing(self) -> bool:
        pending = getattr(self._local, "pending", None)
        return (
            pending is not None
            and connection.in_atomic_block
            and any(func is pending for _sids, func, *_rest in connection.run_on_commit)
        )

    def get(self) -> T:
        if self._writing():
            if not self._keep_while_writing:
                return self._load()
            tx = getattr(self._local, "tx", _UNSET)
            if tx is _UNSET:
                tx = self._local.tx = self._load()
            return tx
        now = time.monotonic()
        expired = now - self._loaded > getattr(settings, self._max_age, 300)
        if expired or now - self._checked > CHECK_SECONDS:
            self._checked = now
            stamp = cache.get(self.stamp_key)
            if expired or (self._stamp is not _UNSET and stamp != self._stamp):
                self._value = _UNSET
            self._stamp = stamp
        if self._value is _UNSET:
            self._value = self._load()
            self._loaded = time.monotonic()
        return self._value

    def clear(self) -> None:
        """Forget this process's copy (tests; after a commit)."""
        self._value = _UNSET
        self._loaded = time.monotonic()
        self._checked = 0.0
        self._stamp = _UNSET
        self._local.pending = None
        self._local.tx = _UNSET

    def invalidate(self) -> None:
        """The table changed: forget it here now, in every process after commit."""
        self._value = _UNSET

        def after_commit() -> None:
            self.clear()
            cache.set(self.stamp_key, uuid.uuid4().hex, None)

        if connection.in_atomic_block:
            self._local.pending = after_commit
            self._local.tx = _UNSET  # loaded again after this write
            transaction.on_commit(after_commit)
        else:
            after_commit()


def clear_all() -> None:
    """Forget every copy (tests)."""
    for copy in _copies:
        copy.clear()


def _changed(model) -> None:
    for copy in _watched.get(model, ()):
        copy.invalidate()


class ReferenceQuerySet(models.QuerySet):
    """Bulk writes to a table kept in a copy invalidate it, as saves and deletes do."""

    def update(self, **kwargs):
        _changed(self.model)
        return super().update(**kwargs)

    update.alters_data = True

    def _raw_delete(self, using):
        _changed(self.model)
        return super()._raw_delete(using)

    def bulk_create(self, *args, **kwargs):
        _changed(self.model)
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args, **kwargs):
        _changed(self.model)
        return super().bulk_update(*args, **kwargs)


def watch(model, copy: ProcessCopy) -> None:
    """Invalidate `copy` on every write to `model`: saves and deletes (signals) and, when its
    manager is `ReferenceQuerySet.as_manager()`, bulk writes (call from the app's ready())."""
    from django.db.models.signals import post_delete, post_save

    if copy in _watched.setdefault(model, []):
        return
    _watched[model].append(copy)

    def changed(sender, **kwargs) -> None:
        copy.invalidate()

    uid = f"copies.{model._meta.label}.{copy.stamp_key}"
    post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid + ".save")
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid + ".delete")
