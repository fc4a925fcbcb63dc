"""Run-once for the detection job: two beat runs (or a beat run and a manual one) at the same
time must not both act. Call inside a transaction; the lock is held until it ends.

PostgreSQL: a transaction-scoped advisory lock, tried without waiting (the loser skips this
round; the next one comes in five minutes). SQLite: writers are serialised by the IMMEDIATE
transaction the settings use, so the second run waits and then sees the first one's work."""

from __future__ import annotations

import zlib

from django.db import connection


def lock_key(name: str) -> int:
    """A stable 32-bit key for `name` (advisory locks take a bigint)."""
    return zlib.crc32(name.encode())


def try_run_once(name: str) -> bool:
    """True if this transaction may run job `name` now."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key(name)])
        return bool(cur.fetchone()[0])
