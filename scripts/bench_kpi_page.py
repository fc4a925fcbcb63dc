"""Benchmark: the KPI page and its live backlog at the bench data's size (issue 17).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pread_1m SECRET_KEY=x DEBUG=0 \\
        ALLOWED_HOSTS=testserver .venv/bin/python scripts/bench_kpi_page.py [--reps 5]

In this process, through Django's test client: `/reports/` for a month and for all of the
bench data's history as the auditor (`--users auditor,lead`: also the lead, whose pages stay
live), then `kpis.backlog()` and the page's breached list alone; median wall milliseconds
of `--reps` calls after one warm-up, the queries of one call (not for the pages), and the
load average. Run `manage.py kpi_rebuild` first (the page figures come from the daily
roll-up). Reads only. With BENCH_CODE=<checkout> the same calls run another checkout's
code (before/after on one database).

Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# BENCH_CODE=<checkout>: run against another checkout's code (before/after on one database).
ROOT = Path(os.environ.get("BENCH_CODE") or Path(__file__).resolve().parent.parent)

PAGES = {
    "KPI page, a month": "/reports/?period=custom&start=2026-08-01&end=2026-08-31",
    "KPI page, all history": "/reports/?period=custom&start=2026-08-01&end=2026-11-10",
}


def timed(fn, reps: int) -> tuple[float, int]:
    from contextlib import ExitStack

    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    fn()
    with ExitStack() as stack:  # the page reads through the replica alias (`on_replica`)
        qs = [stack.enter_context(CaptureQueriesContext(c)) for c in connections.all()]
        fn()
    walls = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t) * 1000)
    return statistics.median(walls), sum(len(q.captured_queries) for q in qs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--users", default="auditor", help="comma-separated: auditor,lead")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from reports import kpis

    rows = []
    for who in args.users.split(","):
        user = User.objects.get(username=f"bench_{who}")
        c = Client(HTTP_HOST="testserver", HTTP_ACCEPT_LANGUAGE="zh-hans")
        c.force_login(user)
        for name, path in PAGES.items():

            def page(path=path, c=c):
                assert c.get(path).status_code == 200

            ms, _n = timed(page, args.reps)  # a request clears the query log: not counted
            rows.append((f"{name} ({who})", ms, "-", os.getloadavg()[0]))

        def backlog(user=user):
            kpis.backlog(user=user, now=timezone.now())

        def breached(user=user):
            list(
                kpis.breached_tickets(user=user, now=timezone.now()).select_related(
                    "department", "category", "category__parent", "promise_clock"
                )[:20]
            )

        rows.append((f"kpis.backlog() ({who})", *timed(backlog, args.reps), os.getloadavg()[0]))
        rows.append((f"breached list, 20 ({who})", *timed(breached, args.reps), os.getloadavg()[0]))
    print(f"{'what':<36} {'ms (median)':>12} {'queries':>8} {'load':>6}")
    for name, ms, n, load in rows:
        print(f"{name:<36} {ms:>12.1f} {n:>8} {load:>6.2f}")


if __name__ == "__main__":
    main()
