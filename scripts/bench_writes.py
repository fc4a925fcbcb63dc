"""Writes and the phone report form at 10,000 and 1,000,000 orders, through gunicorn.

Scenarios, each beside the floor (GET /api/v1/ping/, a trivial JSON view with no query) served
by the same gunicorn in the same run and with the same number of clients:

- POST /api/v1/tickets/ (create) with 1 client and with 8 clients;
- POST /api/v1/tickets/<number>/transitions/dispatch/ (a transition), 8 clients, each request
  on another reported order;
- GET /report/ (the phone report form of the frontline user who reported every order), 1 client.

Usage (a local PostgreSQL; BENCH_PG is the server, default postgres://postgres@127.0.0.1:5432):

    .venv/bin/python scripts/bench_writes.py --db bench_pwrite_1m --seed 1000000   # once
    .venv/bin/python scripts/bench_writes.py --db bench_pwrite_1m                 # measure

`--seed N` (re)creates the database, migrates it and inserts N orders with their promise
clocks (INSERT ... SELECT generate_series), reported over the last 180 days up to now; without
it the kept database is migrated (new migrations and their backfills run) and measured again.
`--drop` drops the database at the end. Each run adds its creates to the database (a few
thousand orders: negligible next to the seeded ones) and dispatches reported orders.
Not a test: figures depend on the machine; the script prints the load average beside them.
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
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
PORT = 8793
PROJECT = r"/(workorders|sla|api|customers|notifications|accounts|web)/[^/]+\.py"
SPAN_DAYS = 180


def admin_conn(admin_url: str):
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    return conn


def seed(rows: int) -> None:
    """Users, a token, categories and `rows` orders (+ promise clocks) reported by one
    frontline user over the last SPAN_DAYS days."""
    from bench_api import _columns
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
    Token.objects.create(user=dispatcher)
    Token.objects.create(user=frontline)
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
    step = SPAN_DAYS * 86400.0 / rows
    reported = f"(now() - interval '1 hour' - ({int(rows)} - g) * interval '{step} seconds')"
    secs = {u: p.target_minutes * 60 for u, p in pol.items()}
    target = f"(CASE WHEN {urgent} THEN {secs['urgent']} ELSE {secs['general']} END)"
    due = f"({reported} + {target} * interval '1 second')"
    open_state = f"({state_case} NOT IN ('replied','closed'))"
    ticket_cols, ticket_exprs = _columns(
        Ticket,
        {
            "id": "g",
            "number": "'GB' || lpad(g::text, 14, '0')",
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
        cur.execute(f"VACUUM ANALYZE {Ticket._meta.db_table}")
        cur.execute(f"VACUUM ANALYZE {Clock._meta.db_table}")
    print(f"seeded {rows} orders in {time.perf_counter() - t0:.0f}s", flush=True)


def fixtures() -> dict:
    """Tokens, a category, a session for the frontline user, reported orders to dispatch."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    from accounts.models import Department, User
    from workorders.models import Category, Ticket

    disp = User.objects.get(username="bench_disp")
    front = User.objects.get(username="bench_front")
    session = SessionStore()
    session[SESSION_KEY] = str(front.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = front.get_session_auth_hash()
    session.create()
    numbers = list(
        Ticket.objects.filter(state="reported")
        .order_by("-id")
        .values_list("number", flat=True)[:2000]
    )
    return {
        "disp_token": Token.objects.get(user=disp).key,
        "front_token": Token.objects.get(user=front).key,
        "category": Category.objects.get(code="broadband_fault").pk,
        "department": Department.objects.get(code="network").pk,
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "reported": numbers,
    }


def profile(n: int, top: int) -> None:
    """cProfile of `n` creates and `n` dispatches through the API in this process (Django's
    test client, the same settings as gunicorn): where a write spends its CPU time."""
    import cProfile
    import io
    import pstats

    from django.db import connection
    from rest_framework.test import APIClient

    fx = fixtures()
    front, disp = APIClient(), APIClient()
    front.credentials(HTTP_AUTHORIZATION=f"Token {fx['front_token']}")
    disp.credentials(HTTP_AUTHORIZATION=f"Token {fx['disp_token']}")
    stamp = int(time.time()) % 100000

    def create(i):
        body = {"category": fx["category"], "customer_phone": f"135{stamp:05d}{i % 1000:03d}"}
        r = front.post("/api/v1/tickets/", {**body, "description": "剖析"}, format="json")
        assert r.status_code == 201, r.content

    def dispatch(i):
        number = fx["reported"][i]
        r = disp.post(
            f"/api/v1/tickets/{number}/transitions/dispatch/",
            {"department": fx["department"]},
            format="json",
        )
        assert r.status_code == 200, r.content

    for name, fn in (("create", create), ("dispatch", dispatch)):
        fn(n)  # warm up
        # Django resets its query log when a request starts: count statements directly.
        statements: list[str] = []

        def counted(execute, sql, params, many, context, seen=statements):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            fn(n + 1)
        prof = cProfile.Profile()
        t0 = time.process_time()
        prof.enable()
        for i in range(n):
            fn(i if name == "dispatch" else 2000 + i)
        prof.disable()
        cpu = (time.process_time() - t0) / n * 1000
        print(f"\n### {name}: {len(statements)} statements, {cpu:.1f} ms CPU each\n")
        # Everything by own time; the project's functions by time including callees.
        for key, only in (("tottime", ""), ("cumulative", PROJECT)):
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out).sort_stats(key)
            stats.print_stats(*([only] if only else []), top)
            lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
            start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
            print(f"top {top} by {key}{' (project code)' if only else ''}:")
            print("\n".join(ln.replace(str(ROOT) + "/", "") for ln in lines[start:]))


def load(method, path_fn, *, headers: dict, body_fn=None, n: int, threads: int) -> dict:
    """`n` requests from `threads` keep-alive connections; latencies in ms."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        h = {"Accept": "application/json", **headers}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = None
            if body_fn is not None:
                body = json.dumps(body_fn(i)).encode()
                h["Content-Type"] = "application/json"
            t = time.perf_counter()
            conn.request(method, path_fn(i), body=body, headers=h)
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
        "load": os.getloadavg()[0],
    }


def port_free() -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", PORT)) != 0


def wait_for_server(proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/ping/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited") from None
            time.sleep(0.5)
    raise SystemExit("gunicorn did not come up")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="bench_pwrite_10k")
    parser.add_argument("--seed", type=int, default=0, help="(re)create with N orders")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--report-requests", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, help="cProfile N creates/dispatches")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    globals()["PORT"] = args.port
    server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    admin_url = f"{server}/postgres"
    db_url = urlparse(admin_url)._replace(path=f"/{args.db}").geturl()
    if args.seed:
        conn = admin_conn(admin_url)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
            cur.execute(f"CREATE DATABASE {args.db}")
        conn.close()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DEBUG": "0",
        "CONN_MAX_AGE": "600",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "API_THROTTLE_USER": "100000000/minute",
        "API_THROTTLE_ANON": "100000000/minute",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # DEBUG=0 serves hashed static files: collect them outside the checkout.
        "STATIC_ROOT": os.environ.get("STATIC_ROOT", "/tmp/bench_writes_static"),
    }
    os.environ.update(env)
    t0 = time.perf_counter()
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    print(f"migrated in {time.perf_counter() - t0:.0f}s", flush=True)
    import django

    django.setup()
    if args.seed:
        seed(args.seed)
    if args.seed_only:
        return
    if args.profile:
        profile(args.profile, args.top)
        return
    from django.db import connection

    from workorders.models import Ticket

    orders = Ticket.objects.count()
    fx = fixtures()
    connection.close()
    if not port_free():
        raise SystemExit(f"port {PORT} is in use: --port another")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "config.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", str(args.workers)],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_server(proc)
        n = args.requests
        stamp = int(time.time()) % 100000
        disp = {"Authorization": f"Token {fx['disp_token']}"}
        front = {"Authorization": f"Token {fx['front_token']}"}

        def create_body(i):
            return {
                "category": fx["category"],
                "customer_phone": f"137{stamp:05d}{i % 1000:03d}",
                "description": f"压测报单 {i}",
            }

        numbers = iter(fx["reported"])
        targets = [next(numbers) for _ in range(min(n, len(fx["reported"])))]

        def ping(_i):
            return "/api/v1/ping/"

        scenarios = [
            ("floor: GET /api/v1/ping/", 1, "GET", ping, {}, None, n),
            ("floor: GET /api/v1/ping/", 8, "GET", ping, {}, None, n),
            (
                "create: POST /api/v1/tickets/",
                1,
                "POST",
                lambda i: "/api/v1/tickets/",
                front,
                create_body,
                n // 2,
            ),
            (
                "create: POST /api/v1/tickets/",
                8,
                "POST",
                lambda i: "/api/v1/tickets/",
                front,
                lambda i: create_body(i + 500),
                n,
            ),
            (
                "transition: POST …/transitions/dispatch/",
                8,
                "POST",
                lambda i: f"/api/v1/tickets/{targets[i]}/transitions/dispatch/",
                disp,
                lambda i: {"department": fx["department"]},
                len(targets),
            ),
            (
                "phone: GET /report/",
                1,
                "GET",
                lambda i: "/report/",
                {"Cookie": fx["cookie"], "Accept": "text/html"},
                None,
                args.report_requests,
            ),
        ]
        # Warm up: imports, connections, per-process caches.
        load("GET", ping, headers={}, n=20, threads=2)
        load("GET", lambda i: "/report/", headers={"Cookie": fx["cookie"]}, n=4, threads=2)
        load(
            "POST",
            lambda i: "/api/v1/tickets/",
            headers=front,
            body_fn=lambda i: create_body(i + 900),
            n=10,
            threads=2,
        )
        results = []
        for name, clients, method, path_fn, headers, body_fn, count in scenarios:
            r = load(method, path_fn, headers=headers, body_fn=body_fn, n=count, threads=clients)
            results.append((name, clients, r))
            print(
                name, clients, {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}
            )
        floor = {c: r for name, c, r in results if name.startswith("floor")}
        print()
        print(f"{orders:,} orders; gunicorn -w {args.workers} (sync), DEBUG=0, PostgreSQL")
        print()
        print(
            "| scenario | clients | req/s | p50 ms | p95 ms | req/s ÷ floor | p50 ÷ floor "
            "| load avg | statuses |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, c, r in results:
            f = floor[c]
            print(
                f"| {name} | {c} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                f"{r['rps'] / f['rps']:.3f} | {r['p50'] / f['p50']:.1f}× | {r['load']:.1f} | "
                f"{r['statuses']} |"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if args.drop:
            from django.db import connections

            connections.close_all()
            conn = admin_conn(admin_url)
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
            conn.close()


if __name__ == "__main__":
    main()
