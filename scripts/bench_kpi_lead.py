"""Benchmark: the department lead's KPI page at the bench data's size (issue 17).

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/<copy of the bench data> \\
           SECRET_KEY=x DEBUG=0 ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=0 STATIC_ROOT=<dir>
    .venv/bin/python scripts/bench_kpi_lead.py --cohandle          # once: writes co-handling
    .venv/bin/python scripts/bench_kpi_lead.py [--reps 3] [--explain 4]

In this process: `kpis.report_figures` (the page's figures) and the whole `/reports/` page
through Django's test client, for a month and for all of the bench data's history, as the
bench lead (`bench_lead`, a line's lead: his line's orders and the orders it co-handles) and
as the auditor for comparison; median wall and CPU milliseconds of `--reps` calls after one
warm-up call of the figures (whose statements are counted; the page reuses that warm-up),
and the load average. `--explain N`: EXPLAIN (ANALYZE, BUFFERS) of the N slowest statements
of one call of the lead's figures. `--periods month` or `all`: one of the two only.
`--reps 0`: the warm-up call's time alone (one call each, for slow "before" runs).

`--cohandle` (writes; use a copy of the bench data): the bench data has no co-handling, so
the orders of the other lines with id % 100 = 7 get the lead's line as a co-handling
department and those of his line with id % 100 = 8 another line (at 1M: 10,000 orders the
lead sees only through co-handling, 10,000 of his own that others help with). Idempotent.

With BENCH_CODE=<checkout> the same calls run another checkout's code (before/after on one
database). Run `manage.py kpi_rebuild` first where the roll-up is not built. Not a test:
numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_CODE") or Path(__file__).resolve().parent.parent)

MONTH = ("2026-08-01", "2026-08-31")
ALL = ("2026-08-01", "2026-11-10")


def add_cohandling() -> None:
    from django.db import connection

    from accounts.models import User

    lead = User.objects.get(username="bench_lead")
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO workorders_cohandling
                 (ticket_id, department_id, requested_by_id, note, created_at)
               SELECT t.id, %s, %s, '', t.reported_at + interval '1 hour'
               FROM workorders_ticket t WHERE t.id %% 100 = 7 AND t.department_id <> %s
               UNION ALL
               SELECT t.id, (SELECT min(d.id) FROM accounts_department d
                             WHERE d.kind = 'line' AND d.id <> %s), %s, '',
                      t.reported_at + interval '1 hour'
               FROM workorders_ticket t WHERE t.id %% 100 = 8 AND t.department_id = %s
               ON CONFLICT (ticket_id, department_id) DO NOTHING""",
            [lead.department_id, lead.pk, lead.department_id] * 2,
        )
        print(f"co-handling rows added: {cur.rowcount}")
        cur.execute("ANALYZE workorders_cohandling")


def timed(fn, reps: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(max(reps, 1)):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def explain_slowest(fn, n: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    slow = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:n]
    for q in slow:
        sql = q["sql"]
        print(f"\n-- {float(q['time']) * 1000:.0f} ms: {sql[:300]}{'…' if len(sql) > 300 else ''}")
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cur:
            cur.execute("SET jit = off")
            cur.execute("SET work_mem = '64MB'")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print("\n".join(r[0] for r in cur.fetchall()))
            cur.execute("RESET jit")
            cur.execute("RESET work_mem")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--users", default="lead,auditor", help="comma-separated: lead,auditor")
    ap.add_argument("--explain", type=int, default=0, metavar="N")
    ap.add_argument("--cohandle", action="store_true", help="add the co-handling rows and stop")
    ap.add_argument("--no-page", action="store_true", help="the figures only, not the page")
    ap.add_argument("--periods", default="month,all", help="comma-separated: month,all")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.cohandle:
        add_cohandling()
        return
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from reports import kpis

    print(f"code: {Path(kpis.__file__).parent.parent}")
    rows = []
    for who in args.users.split(","):
        user = User.objects.get(username=f"bench_{who}")
        client = Client(HTTP_HOST="testserver", HTTP_ACCEPT_LANGUAGE="zh-hans")
        client.force_login(user)
        periods = {"month": ("a month", MONTH), "all": ("all history", ALL)}
        for label, (a, b) in (periods[p] for p in args.periods.split(",")):
            from datetime import date

            period = kpis.period_for(
                "custom", start=date.fromisoformat(a), end=date.fromisoformat(b)
            )

            def figures(user=user, period=period):
                kpis.report_figures(user=user, period=period)

            with CaptureQueriesContext(connection) as ctx:  # the warm-up
                w0, c0 = timed(figures, 0)
            wall, cpu = timed(figures, args.reps) if args.reps else (w0, c0)
            rows.append((f"figures, {label} ({who})", wall, cpu, len(ctx), os.getloadavg()[0]))
            if args.explain and who == "lead":
                print(f"\n==== {who}, {label}: the {args.explain} slowest statements")
                explain_slowest(figures, args.explain)
            if not args.no_page:
                path = f"/reports/?period=custom&start={a}&end={b}"

                def page(path=path, client=client):
                    assert client.get(path).status_code == 200

                wall, cpu = timed(page, args.reps)
                rows.append((f"page, {label} ({who})", wall, cpu, "-", os.getloadavg()[0]))
        if not args.no_page:  # the page's live part: the backlog "now"

            def backlog(user=user):
                kpis.backlog(user=user)

            wall, cpu = timed(backlog, args.reps)
            rows.append((f"kpis.backlog() ({who})", wall, cpu, "-", os.getloadavg()[0]))
    print(f"\n{'what':<34} {'wall ms':>10} {'CPU ms':>8} {'queries':>8} {'load':>6}")
    for name, wall, cpu, n, load in rows:
        print(f"{name:<34} {wall:>10.1f} {cpu:>8.1f} {n:>8} {load:>6.2f}")


if __name__ == "__main__":
    main()
