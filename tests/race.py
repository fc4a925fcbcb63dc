"""Real concurrent actors for the race tests: each function runs in its own thread (and so on
its own database connection), all released at the same instant by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from django.db import connections


def run_at_once(fns: Sequence[Callable[[], object]], *, timeout: float = 60):
    """Run every function at the same instant; return (results, errors), each in finishing
    order. Each thread opens its connection before the barrier, so the race window is the
    work itself, not connection setup."""
    barrier = threading.Barrier(len(fns))
    results: list = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(fn):
        try:
            connections["default"].ensure_connection()
            barrier.wait(timeout=30)
            value = fn()
            with lock:
                results.append(value)
        except Exception as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors
