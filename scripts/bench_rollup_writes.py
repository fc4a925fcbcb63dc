"""Benchmark: what the KPI roll-up's upkeep costs each write (issue 17).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pkpi_1m SECRET_KEY=x \\
        .venv/bin/python scripts/bench_rollup_writes.py [--orders 100]

Walks new orders through the services (report, dispatch, claim, reply, close) on a database
that already holds the bench data (`scripts/bench_reports.py --seed-only`, then
`manage.py kpi_rebuild`), alternately with the roll-up's listener and without it, and prints
the median wall time and the queries of each service call. Everything runs in one
transaction that is rolled back at the end, so the database is left as it was.

Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Rollback(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from reports import rollup
    from tests.factories import Cast, report
    from workorders import events, services

    steps = ("report", "dispatch", "claim", "reply", "close")
    times = {on: {s: [] for s in steps} for on in (True, False)}
    queries = {on: {s: [] for s in steps} for on in (True, False)}
    listeners = [
        (events.AUDITED, rollup.on_order_changed),
        (events.RISK_ALERT, rollup.on_order_changed),
        (events.REPORTED, rollup.on_order_reported),
    ]
    try:
        with transaction.atomic():
            cast = Cast()
            now = timezone.now()
            for i in range(args.orders):
                on = i % 2 == 0
                for kind, fn in listeners:
                    if on:
                        events.subscribe(kind, fn)
                    elif fn in events._listeners[kind]:
                        events._listeners[kind].remove(fn)
                t = None

                def run(step, t, i=i):
                    at = now + timedelta(minutes=steps.index(step))
                    if step == "report":
                        return report(cast, now=at, phone=f"1357{i:07d}")
                    if step == "dispatch":
                        return services.ticket_dispatch(
                            ticket=t, by=cast.dispatcher, department=cast.network, now=at
                        )
                    if step == "claim":
                        return services.ticket_claim(
                            ticket=t, by=cast.lead, handler=cast.handler, now=at
                        )
                    if step == "reply":
                        return services.ticket_reply(
                            ticket=t,
                            by=cast.handler,
                            result="已处理",
                            cause="network",
                            resolved=True,
                            now=at,
                        )
                    return services.ticket_close(
                        ticket=t,
                        by=cast.dispatcher,
                        outcome="success",
                        resolved=True,
                        satisfaction="satisfied",
                        now=at,
                    )

                for step in steps:
                    with CaptureQueriesContext(connection) as ctx:
                        t0 = time.perf_counter()
                        out = run(step, t)
                        dt = time.perf_counter() - t0
                    if step == "report":
                        t = out
                    times[on][step].append(dt * 1000)
                    queries[on][step].append(len(ctx.captured_queries))
            raise _Rollback
    except _Rollback:
        pass
    finally:
        for kind, fn in listeners:
            events.subscribe(kind, fn)
    out = {}
    for step in steps:
        out[step] = {
            "with_rollup_ms": round(statistics.median(times[True][step]), 2),
            "without_ms": round(statistics.median(times[False][step]), 2),
            "with_rollup_queries": max(queries[True][step]),
            "without_queries": max(queries[False][step]),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
