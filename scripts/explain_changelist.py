"""The SQL one admin changelist view runs, with each statement's time and, for the slow ones,
PostgreSQL's plan (EXPLAIN (ANALYZE, BUFFERS)). For finding what a page costs at 1M orders.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pread_1m SECRET_KEY=x DEBUG=0 \\
    ALLOWED_HOSTS=127.0.0.1,testserver \\
        .venv/bin/python scripts/explain_changelist.py bench_lead [query string] [--explain-ms 5]

The page is requested twice first (per-process caches warm), then once under capture; the
"over the cap" memory of the paginator is cleared before the captured view unless --warm.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("username")
    ap.add_argument("query", nargs="?", default="")
    ap.add_argument("--explain-ms", type=float, default=5.0)
    ap.add_argument("--warm", action="store_true", help="keep the paginator's cache memory")
    ap.add_argument("--profile", type=int, default=0, help="cProfile this many views (warm)")
    args = ap.parse_args()

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(User.objects.get(username=args.username))
    url = "/admin/workorders/ticket/" + (f"?{args.query}" if args.query else "")
    for _ in range(2):
        assert client.get(url).status_code == 200
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.profile):
            client.get(url)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        return
    if not args.warm:
        cache.clear()
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    total = (time.perf_counter() - t0) * 1000
    assert response.status_code == 200
    print(f"{url}: {total:.1f} ms, {len(ctx.captured_queries)} queries")
    for i, q in enumerate(ctx.captured_queries):
        ms = float(q["time"]) * 1000
        print(f"\n[{i}] {ms:.1f} ms  {q['sql'][:300]}")
        if ms >= args.explain_ms and q["sql"].lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                for (line,) in cur.fetchall():
                    print("    " + line)


if __name__ == "__main__":
    main()
