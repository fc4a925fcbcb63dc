"""Run a job at most once at a time, across worker processes and machines.

PostgreSQL: a session advisory lock keyed by the job's name (`pg_try_advisory_lock`), taken on
the job's own database connection for the whole run and released at its end, or by the server
when the connection dies with a killed worker, so a crash never leaves the job stuck. (Session
locks need a real session: connect the workers to PostgreSQL directly or through a pooler in
session mode, not in transaction mode.)

Elsewhere (SQLite, a single writer): a conditional UPDATE claims the job's row; a claim older
than `lease` belongs to a run that died and is taken over.

A run that finds the job held does nothing and is counted (`JobRun.skipped`); a run that ends
records when and how long, which the readiness check and the metrics read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.models import F, Q
from django.utils import timezone

from .models import JobRun

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name (the same in every process)."""
    digest = hashlib.blake2b(f"whistle.job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _advisory() -> bool:
    return connection.vendor == "postgresql"


def _acquire(name: str, *, lease: timedelta, now) -> bool:
    if _advisory():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(name)])
            if not cursor.fetchone()[0]:
                return False
        JobRun.objects.filter(name=name).update(running_since=now, last_started_at=now)
        return True
    return bool(
        JobRun.objects.filter(name=name)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=now - lease))
        .update(running_since=now, last_started_at=now)
    )


def _release(name: str, *, since) -> None:
    try:
        JobRun.objects.filter(name=name, running_since=since).update(running_since=None)
        if _advisory():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_key(name)])
    except DatabaseError:
        # The session is broken (or its transaction aborted): closing it is what releases a
        # session lock for sure; a lock left on a pooled connection would block every run.
        log.warning("job %s: could not release its lock; closing the connection", name)
        connection.close()


@contextmanager
def run_once(name: str, *, lease: timedelta) -> Iterator[bool]:
    """`with run_once("sla_sweep", lease=…) as mine:` — `mine` is False when another run of
    the job holds it (then do nothing); the run's end or failure is recorded."""
    now = timezone.now()
    JobRun.objects.bulk_create([JobRun(name=name)], ignore_conflicts=True)
    if not _acquire(name, lease=lease, now=now):
        JobRun.objects.filter(name=name).update(skipped=F("skipped") + 1, last_skipped_at=now)
        log.info("job %s: another run is in progress; this one does nothing", name)
        yield False
        return
    started = time.monotonic()
    try:
        yield True
    except BaseException as exc:
        try:
            JobRun.objects.filter(name=name).update(
                last_failed_at=timezone.now(), last_error=f"{type(exc).__name__}: {exc}"[:300]
            )
        except DatabaseError:
            log.warning("job %s: could not record its failure", name)
        raise
    else:
        JobRun.objects.filter(name=name).update(
            last_success_at=timezone.now(),
            last_duration_seconds=round(time.monotonic() - started, 3),
            runs=F("runs") + 1,
        )
    finally:
        _release(name, since=now)
