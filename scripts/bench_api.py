"""API benchmark (issue 4): gunicorn on 127.0.0.1 against a PostgreSQL database holding
1,000,000 orders, driven by a bounded load generator.

For each scenario it sends a fixed number of requests from a few client threads and reports
requests/s and p50/p95 latency, beside a trivial JSON view (/api/v1/ping/) served by the same
gunicorn: the floor. Scenarios: POST /api/v1/tickets/ (creates), the list's first page, and a
page deep in the table (cursor from the middle of the ordering) for two orderings.

    BENCH_PG=postgres://postgres@127.0.0.1:5432 \\
        .venv/bin/python scripts/bench_api.py [--rows 1000000] [--requests 500]

It creates the database `bench_i4`, fills it with INSERT ... SELECT generate_series, runs the
scenarios, prints a Markdown table and drops the database. Not a test: numbers depend on the
machine (note the load average it prints).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_i4"
PORT = 8764


def admin_conn(admin_url: str):
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    return conn


def recreate_db(admin_url: str) -> str:
    conn = admin_conn(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()
    u = urlparse(admin_url)
    return u._replace(path=f"/{DB_NAME}").geturl()


def drop_db(admin_url: str) -> None:
    conn = admin_conn(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    conn.close()


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _columns(model, overrides: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT expressions for every concrete column of `model`: the overrides,
    else NULL for nullable columns, else the field's default, else an empty value."""
    from django.db import models

    cols, exprs = [], []
    for f in model._meta.concrete_fields:
        cols.append(f'"{f.column}"')
        if f.column in overrides:
            exprs.append(overrides[f.column])
        elif f.null:
            exprs.append("NULL")
        elif f.has_default() and not callable(f.default):
            exprs.append(_literal(f.default))
        elif isinstance(f, models.BooleanField):
            exprs.append("false")
        elif isinstance(f, (models.IntegerField, models.DecimalField)):
            exprs.append("0")
        elif isinstance(f, models.DateTimeField):
            exprs.append("now()")
        elif isinstance(f, models.JSONField):
            exprs.append("'{}'::jsonb")
        else:
            exprs.append("''")
    return ", ".join(cols), ", ".join(exprs)


def seed(rows: int) -> dict:
    """Users, a token, and `rows` orders with their promise clocks, in one transaction."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from rest_framework.authtoken.models import Token

    from accounts.models import Department, User
    from sla.models import Clock, SlaPolicy
    from workorders.models import Category, Ticket

    network = Department.objects.get(code="network")
    channel = Department.objects.get(code="channel")
    dispatcher = User.objects.create(username="bench_disp", department=network)
    dispatcher.groups.add(Group.objects.get(name="dispatcher"))
    frontline = User.objects.create(username="bench_front", department=channel)
    frontline.groups.add(Group.objects.get(name="frontline"))
    token = Token.objects.create(user=dispatcher).key
    cats = [
        Category.objects.create(name="宽带故障", code="broadband_fault").pk,
        Category.objects.create(
            name="缴费延开", code="payment_reconnect", default_urgency="urgent"
        ).pk,
    ]
    pol = {p.urgency: p for p in SlaPolicy.objects.filter(kind="promise")}
    states = ["reported", "dispatched", "accepted", "accepted", "suspended", "replied", "closed"]
    state_case = "(ARRAY[" + ",".join(f"'{s}'" for s in states) + f"])[1 + g % {len(states)}]"
    urgent = "(g % 10 = 0)"
    reported = "(timestamptz '2026-01-01 00:00+08' + g * interval '15 seconds')"
    secs = {u: p.target_minutes * 60 for u, p in pol.items()}
    target = f"(CASE WHEN {urgent} THEN {secs['urgent']} ELSE {secs['general']} END)"
    due = f"({reported} + {target} * interval '1 second')"
    open_state = f"({state_case} NOT IN ('replied','closed'))"
    ticket_cols, ticket_exprs = _columns(
        Ticket,
        {
            "id": "g",
            "number": "'GD' || lpad(g::text, 14, '0')",
            "channel": "'field'",
            "reporter_id": str(frontline.pk),
            "reporter_department_id": str(channel.pk),
            "reported_at": reported,
            "customer_phone": "'139' || lpad((g % 100000000)::text, 8, '0')",
            "star_level": "CASE WHEN g % 7 = 0 THEN 5 ELSE NULL END",
            "category_id": f"CASE WHEN {urgent} THEN {cats[1]} ELSE {cats[0]} END",
            "urgency": f"CASE WHEN {urgent} THEN 'urgent' ELSE 'general' END",
            "is_urgent": urgent,
            "is_priority": "(g % 7 = 0)",
            "description": "'家里宽带晚上经常掉线 #' || g",
            "state": state_case,
            "department_id": f"CASE WHEN {state_case} = 'reported' THEN NULL ELSE {network.pk} END",
            "promise_clock_id": "g",
            "promise_due_at": due,
            "created_at": reported,
            "updated_at": reported,
        },
    )
    clock_cols, clock_exprs = _columns(
        Clock,
        {
            "id": "g",
            "ticket_id": "g",
            "kind": "'promise'",
            "policy_id": f"CASE WHEN {urgent} THEN {pol['urgent'].pk} ELSE {pol['general'].pk} END",
            "started_at": reported,
            "target_seconds": target,
            "original_due_at": due,
            "due_at": due,
            "risk_at": f"({reported} + {target} * interval '0.8 second')",
            "stopped_at": (
                f"CASE WHEN {open_state} THEN NULL ELSE {reported} + interval '3 hours' END"
            ),
            "outcome": f"CASE WHEN {open_state} THEN '' ELSE 'met' END",
            "outcome_original": f"CASE WHEN {open_state} THEN '' ELSE 'met' END",
        },
    )
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        # Ticket ↔ clock reference each other; Django's foreign keys are deferred to commit.
        cur.execute(
            f"INSERT INTO {Ticket._meta.db_table} ({ticket_cols}) "
            f"SELECT {ticket_exprs} FROM generate_series(1, {int(rows)}) AS g"
        )
        cur.execute(
            f"INSERT INTO {Clock._meta.db_table} ({clock_cols}) "
            f"SELECT {clock_exprs} FROM generate_series(1, {int(rows)}) AS g"
        )
        for model in (Ticket, Clock):
            table = model._meta.db_table
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {Ticket._meta.db_table}")
        cur.execute(f"ANALYZE {Clock._meta.db_table}")
    load_s = time.perf_counter() - t0
    return {"token": token, "category": cats[0], "load_seconds": load_s}


def deep_cursor(ordering: str, position: int) -> str:
    """The cursor a client would hold after paging to `position` in `ordering`."""
    from api.pagination import KeysetPagination
    from api.views import TicketList
    from workorders.models import Ticket

    keys = TicketList.keyset_orderings[ordering]
    row = (
        Ticket.objects.order_by(*[k.order(False) for k in keys])
        .only(*[k.field for k in keys])[position : position + 1]
        .get()
    )
    return KeysetPagination()._cursor(ordering, keys, row, "n")


def load(method: str, path: str, *, token: str | None, body_fn=None, n: int, threads: int):
    """Send `n` requests from `threads` keep-alive connections; latencies in ms."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = None
            if body_fn is not None:
                body = json.dumps(body_fn(i)).encode()
                headers["Content-Type"] = "application/json"
            t = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            dt = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(dt)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
        conn.close()

    start = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": n / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "statuses": statuses,
    }


def wait_for_server(timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/ping/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not come up")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    admin_url = f"{server}/postgres"
    db_url = recreate_db(admin_url)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CONN_MAX_AGE": "600",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_USER": "100000000/minute",
        "API_THROTTLE_ANON": "100000000/minute",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on 127.0.0.1, no TLS proxy in front
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        import django

        django.setup()
        info = seed(args.rows)
        print(f"seeded {args.rows} orders in {info['load_seconds']:.1f}s", flush=True)
        cursors = {
            "priority": deep_cursor("priority", args.rows // 2),
            "-reported": deep_cursor("-reported", args.rows // 2),
        }
        from django.db import connection

        connection.close()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        server = subprocess.Popen(
            [
                str(gunicorn),
                "config.wsgi",
                "-b",
                f"127.0.0.1:{PORT}",
                "-w",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        wait_for_server()
        token, cat = info["token"], info["category"]
        n, th = args.requests, args.threads
        scenarios = [
            ("floor: GET /api/v1/ping/", "GET", "/api/v1/ping/", None),
            (
                "POST /api/v1/tickets/ (create)",
                "POST",
                "/api/v1/tickets/",
                lambda i: {
                    "category": cat,
                    "customer_phone": f"137{i:08d}",
                    "description": f"压测报单 {i}",
                },
            ),
            ("list, first page (priority)", "GET", "/api/v1/tickets/?page_size=20", None),
            (
                f"list, page at row {args.rows // 2:,} (priority)",
                "GET",
                f"/api/v1/tickets/?page_size=20&cursor={cursors['priority']}",
                None,
            ),
            (
                "list, first page (-reported)",
                "GET",
                "/api/v1/tickets/?page_size=20&ordering=-reported",
                None,
            ),
            (
                f"list, page at row {args.rows // 2:,} (-reported)",
                "GET",
                f"/api/v1/tickets/?page_size=20&ordering=-reported&cursor={cursors['-reported']}",
                None,
            ),
        ]
        # Warm up each path (imports, connections, plans) before measuring.
        for _name, method, path, _body in scenarios:
            if method == "GET":
                load(method, path, token=token, n=20, threads=th)
        results = []
        for name, method, path, body_fn in scenarios:
            r = load(method, path, token=token, body_fn=body_fn, n=n, threads=th)
            results.append((name, r))
            print(name, {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()})
        floor = results[0][1]
        print()
        print(f"load average: {os.getloadavg()}")
        print(f"{n} requests per scenario, {th} client threads, gunicorn -w {args.workers} (sync)")
        print()
        print("| scenario | req/s | p50 ms | p95 ms | p50 ÷ floor | statuses |")
        print("|---|---:|---:|---:|---:|---|")
        for name, r in results:
            print(
                f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                f"{r['p50'] / floor['p50']:.1f}× | {r['statuses']} |"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_db(admin_url)


if __name__ == "__main__":
    main()
