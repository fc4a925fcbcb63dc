"""Reports off the primary: with DATABASE_REPLICA_URL set (settings: a `replica` alias), the
report page, its drill-down lists, exports and the KPI API read from the streaming replica.

Only reads that run inside `replica_reads()` go there; every other read (a user's own order
page right after a change, the services' locked re-reads) and every write stay on `default`,
so nobody misses what they just wrote because the replica is a few milliseconds behind."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections

REPLICA = "replica"
_reads: ContextVar[bool] = ContextVar("whistle_replica_reads", default=False)


def read_alias() -> str:
    """Where the current report read goes: the replica inside `replica_reads()` when one is
    configured, else the primary."""
    return REPLICA if _reads.get() and REPLICA in connections.databases else "default"


@contextmanager
def replica_reads() -> Iterator[None]:
    token = _reads.set(True)
    try:
        yield
    finally:
        _reads.reset(token)


def on_replica(view: Callable) -> Callable:
    """A report view whose reads go to the replica (its writes still go to the primary)."""

    @functools.wraps(view)
    def run(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    return run


def streamed_on_replica(chunks):
    """A streamed body (read after the view has returned) whose reads go to the replica."""
    with replica_reads():
        yield from chunks


class ReplicaRouter:
    """Reads inside `replica_reads()` go to the replica; everything else to the primary."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # the replica copies the primary
