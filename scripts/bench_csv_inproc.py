"""The orders CSV of the PostgreSQL fast path in process, to /dev/null, at a fixed instant
(issue 17): the first N orders (by id) of every order as a user sees them, through
`reports.exports_pg.ticket_csv_chunks`. Prints rows, seconds, rows/s, the process's CPU
seconds, the sha256 of the bytes and the load average: two checkouts giving the same sha256
for the same database, user, N and instant write the same bytes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pread_1m \\
        .venv/bin/python scripts/bench_csv_inproc.py --orders 200000

With BENCH_CODE=<checkout> the same export runs another checkout's code (before/after on one
database); REPORTS_EXPORT_PG_WORKERS=1 renders on one connection. Reads only (no export log).
Not a test: the rate depends on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

# BENCH_CODE=<checkout>: run against another checkout's code (before/after on one database).
ROOT = Path(os.environ.get("BENCH_CODE") or Path(__file__).resolve().parent.parent)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=200_000, help="the first N orders; 0: all")
    ap.add_argument("--user", default="bench_auditor")
    ap.add_argument("--now", default="2026-12-05T12:00:00", help="the export's instant, UTC")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.utils import translation

    from accounts.models import User
    from reports import exports, exports_pg
    from reports.filters import ReportFilters
    from reports.kpis import Scope, period_for

    translation.activate("zh-hans")
    user = User.objects.get(username=args.user)
    period = period_for("custom", start=date(2000, 1, 1), end=date(2100, 1, 1))
    filters = ReportFilters(period=period, scope=Scope(), group_by=None, count=None, params={})
    qs = exports.export_tickets_queryset(user=user, filters=filters)
    if args.orders:
        last = qs.order_by("pk").values_list("pk", flat=True)[args.orders - 1]
        qs = qs.filter(pk__lte=last)
    now = datetime.fromisoformat(args.now).replace(tzinfo=UTC)
    digest = hashlib.sha256()
    rows = 0
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as out:
        for n, data in exports_pg.ticket_csv_chunks(user=user, qs=qs, now=now):
            rows += n
            digest.update(data)
            out.write(data)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    print(
        json.dumps(
            {
                "code": str(ROOT),
                "user": args.user,
                "rows": rows,
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds),
                "python_cpu_s": round(cpu, 2),
                "sha256": digest.hexdigest()[:16],
                "load": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
