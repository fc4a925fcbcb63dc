"""HTTP benchmark at 10,000 and 1,000,000 orders (issue 17): every user-facing scenario served by
gunicorn (-w 2, sync workers, DEBUG=0) from PostgreSQL, each beside the floor — a trivial JSON
view (/api/v1/ping/, no query) served by the same gunicorn, measured just before the scenario
with the same number of clients (interleaved), so the ratio column holds on a busy machine.

    BENCH_PG=postgres://postgres@127.0.0.1:5432 \\
        .venv/bin/python scripts/bench_http.py --sizes 10000,1000000 --keep --reuse

Databases: `bench_pread_10k` and `bench_pread_1m` (override the prefix with --db-prefix). They
are created, migrated and loaded with the report benchmark's generator
(`scripts/bench_reports.py`: orders over 100 days with promise/dispatch/sign-for clocks and
audit rows, INSERT … SELECT generate_series); `--reuse` keeps an already loaded database of the
right size (the 1M load takes minutes), `--keep` does not drop them at the end.

Scenarios (three repetitions each, `--reps`): POST /api/v1/tickets/ with 8 clients (req/s, ratio
to the floor's req/s); API list page 1, a page at the middle of the ordering (keyset cursor)
and an order's detail, the admin changelist as a dispatcher and as a lead, the phone 吹哨 form
(GET /report/), the KPI page for a month and for all of history (1 client, p50 and its ratio to
the floor's p50); the CSV export of every order (rows/s). The load generator is a bounded
Python one (threads over keep-alive connections, a fixed request count and a time cap) aimed at
127.0.0.1 only. The load average is printed with each figure. Not a test: numbers depend on
the machine.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_HTTP_PORT", "8771"))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")


def _bench_reports():
    spec = importlib.util.spec_from_file_location(
        "bench_reports", ROOT / "scripts/bench_reports.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", f"{PG}/{db}", "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def env_for(db: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{db}",
        "CONN_MAX_AGE": "600",
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "API_THROTTLE_USER": "100000000/minute",
        "API_THROTTLE_ANON": "100000000/minute",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on 127.0.0.1, no TLS proxy in front
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # DEBUG=0 serves hashed static files from the manifest: collected once per run.
        "STATIC_ROOT": os.environ.get("BENCH_STATIC_ROOT", "/tmp/bench_http_static"),
    }


def loaded_rows(db: str) -> int | None:
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") != "1":
        return None
    try:
        return int(psql("SELECT count(*) FROM workorders_ticket WHERE id <= 100000000", db))
    except subprocess.CalledProcessError:
        return None


def ensure_db(db: str, rows: int, reuse: bool) -> None:
    have = loaded_rows(db) if reuse else None
    # Created orders (POST scenario) get ids after the loaded ones: count the loaded range.
    if have is not None and psql(
        f"SELECT count(*) FROM workorders_ticket WHERE id <= {rows}", db
    ) == str(rows):
        print(f"reusing {db} ({have:,} orders)", flush=True)
        return
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db}")
    env = env_for(db)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, __file__, "--child", "seed", str(rows)], env=env, check=True)
    # The generator writes with SQL, not through the services that keep the KPI daily roll-up:
    # build it once, as a deployment with existing orders does (README).
    subprocess.run([sys.executable, "manage.py", "kpi_rebuild"], cwd=ROOT, env=env, check=True)


# --------------------------------------------------------------------------- child processes


def _column_default(field) -> str | None:
    from django.db import models as m

    if field.null or field.primary_key or isinstance(field, m.ForeignKey):
        return None
    if field.has_default() and not callable(field.default):
        v = field.default
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
    if isinstance(field, m.BooleanField):
        return "false"
    if isinstance(field, (m.IntegerField, m.DecimalField, m.FloatField)):
        return "0"
    if isinstance(field, m.DateTimeField):
        return "now()"
    if isinstance(field, m.JSONField):
        return "'{}'::jsonb"
    if isinstance(field, (m.CharField, m.TextField)):
        return "''"
    return None


def child_seed(rows: int) -> None:
    from django.db import connection

    from sla.models import Clock
    from workorders.models import AuditEntry, Ticket

    cols = []
    for model in (Ticket, Clock, AuditEntry):
        for f in model._meta.concrete_fields:
            default = _column_default(f)
            if default is not None:
                cols.append((model._meta.db_table, f.column, default))
    with connection.cursor() as cur:
        for table, col, default in cols:
            cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{col}" SET DEFAULT {default}')
    try:
        _bench_reports().seed(rows)
    finally:
        with connection.cursor() as cur:
            for table, col, _default in cols:
                cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{col}" DROP DEFAULT')


def child_prepare() -> dict:
    """Tokens and sessions for the benchmark users, a deep cursor and some order numbers."""
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from api.pagination import KeysetPagination
    from api.views import TicketList
    from workorders.models import Category, Ticket

    users = {u.username: u for u in User.objects.filter(username__startswith="bench_")}
    out: dict = {"sessions": {}, "tokens": {}}
    for role in ("disp", "lead", "front", "auditor"):
        user = users[f"bench_{role}"]
        out["tokens"][role] = Token.objects.get_or_create(user=user)[0].key
        client = Client()
        client.force_login(user)
        out["sessions"][role] = client.cookies["sessionid"].value
    out["category"] = Category.objects.get(code="bench1").pk
    n = Ticket.objects.count()
    keys = TicketList.keyset_orderings["priority"]
    row = (
        Ticket.objects.order_by(*[k.order(False) for k in keys])
        .only(*[k.field for k in keys])[n // 2 : n // 2 + 1]
        .get()
    )
    out["cursor"] = KeysetPagination()._cursor("priority", keys, row, "n")
    step = max(1, n // 50)
    out["numbers"] = list(
        Ticket.objects.filter(id__in=range(step // 2, n, step)).values_list("number", flat=True)
    )
    out["rows"] = n
    return out


def child_inproc(n: int) -> dict:
    """The read scenarios in this process through Django's test client (no HTTP, no gunicorn):
    median wall and CPU milliseconds per request, beside the floor. With BENCH_CODE=<checkout>
    the same runs against another checkout's code (before/after on the same database)."""
    from django.test import Client

    from accounts.models import User

    info = child_prepare()
    numbers = info["numbers"]
    clients = {}
    for role in ("disp", "lead"):
        c = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="zh-hans")
        c.force_login(User.objects.get(username=f"bench_{role}"))
        clients[role] = c
    paths = {
        "floor: /api/v1/ping/": ("disp", lambda i: "/api/v1/ping/"),
        "API list page 1": ("disp", lambda i: "/api/v1/tickets/?page_size=20"),
        "API deep page (middle)": (
            "disp",
            lambda i: f"/api/v1/tickets/?page_size=20&cursor={info['cursor']}",
        ),
        "API detail": ("disp", lambda i: f"/api/v1/tickets/{numbers[i % len(numbers)]}/"),
        "admin changelist, dispatcher": ("disp", lambda i: "/admin/workorders/ticket/"),
        "admin changelist, lead": ("lead", lambda i: "/admin/workorders/ticket/"),
    }
    out = {}
    for name, (role, path) in paths.items():
        c = clients[role]
        for i in range(3):
            assert c.get(path(i)).status_code == 200, name
        walls, cpus = [], []
        for i in range(n):
            w, p = time.perf_counter(), time.process_time()
            c.get(path(i))
            walls.append((time.perf_counter() - w) * 1000)
            cpus.append((time.process_time() - p) * 1000)
        out[name] = {
            "wall_ms": statistics.median(walls),
            "cpu_ms": statistics.median(cpus),
            "load": os.getloadavg()[0],
        }
    return out


# --------------------------------------------------------------------------- load generator


def load(method, path, *, headers, body_fn=None, n: int, clients: int, cap: float) -> dict:
    """Send up to `n` requests over `clients` keep-alive connections, stopping after `cap`
    seconds; `path` may be a function of the request's index."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    lock = threading.Lock()
    counter = iter(range(n))
    deadline = time.perf_counter() + cap

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = json.dumps(body_fn(i)).encode() if body_fn else None
            h = dict(headers, **({"Content-Type": "application/json"} if body else {}))
            url = path(i) if callable(path) else path
            t = time.perf_counter()
            conn.request(method, url, body=body, headers=h)
            resp = conn.getresponse()
            size = 0
            while chunk := resp.read(1 << 16):
                size += chunk.count(b"\n") if "tickets.csv" in url else 0
            dt = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(dt)
                sizes.append(size)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "n": len(latencies),
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "statuses": statuses,
        "lines": sum(sizes),
        "seconds": wall,
        "load": os.getloadavg()[0],
    }


def wait_for_server(timeout=90):
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


def scenarios(info: dict, rep: int, scale: float) -> list[dict]:
    def token(role):
        return {"Accept": "application/json", "Authorization": f"Token {info['tokens'][role]}"}

    def session(role):
        return {"Cookie": f"sessionid={info['sessions'][role]}", "Accept-Language": "zh-hans"}

    numbers = info["numbers"]
    cat = info["category"]
    base = 10_000_000 * (rep + 1) + int(time.time()) % 1_000_000 * 10

    def create_body(i):
        return {
            "category": cat,
            "customer_phone": f"136{(base + i) % 100_000_000:08d}",
            "description": f"压测报单 {i}",
        }

    month = "/reports/?period=custom&start=2026-08-01&end=2026-08-31"
    history = "/reports/?period=custom&start=2026-08-01&end=2026-11-10"
    export = "/reports/export/tickets.csv?period=custom&start=2026-08-01&end=2026-12-31"
    s = max(1, round(scale))
    return [
        dict(
            name="POST /api/v1/tickets/ (create)",
            clients=8,
            n=80 * s,
            cap=60,
            method="POST",
            path="/api/v1/tickets/",
            headers=token("front"),
            body_fn=create_body,
            measure="rps",
        ),
        dict(
            name="API list page 1",
            clients=1,
            n=60 * s,
            cap=30,
            method="GET",
            path="/api/v1/tickets/?page_size=20",
            headers=token("disp"),
            measure="p50",
        ),
        dict(
            name="API deep page (middle)",
            clients=1,
            n=60 * s,
            cap=30,
            method="GET",
            path=f"/api/v1/tickets/?page_size=20&cursor={info['cursor']}",
            headers=token("disp"),
            measure="p50",
        ),
        dict(
            name="API detail",
            clients=1,
            n=60 * s,
            cap=30,
            method="GET",
            path=lambda i: f"/api/v1/tickets/{numbers[i % len(numbers)]}/",
            headers=token("disp"),
            measure="p50",
        ),
        dict(
            name="admin changelist, dispatcher",
            clients=1,
            n=20 * s,
            cap=30,
            method="GET",
            path="/admin/workorders/ticket/",
            headers=session("disp"),
            measure="p50",
        ),
        dict(
            name="admin changelist, lead",
            clients=1,
            n=20 * s,
            cap=30,
            method="GET",
            path="/admin/workorders/ticket/",
            headers=session("lead"),
            measure="p50",
        ),
        dict(
            name="phone /report/ (吹哨 form)",
            clients=1,
            n=20 * s,
            cap=30,
            method="GET",
            path="/report/",
            headers=session("front"),
            measure="p50",
        ),
        dict(
            name="KPI page, a month",
            clients=1,
            n=2,
            cap=60,
            method="GET",
            path=month,
            headers=session("auditor"),
            measure="p50",
        ),
        dict(
            name="KPI page, all history",
            clients=1,
            n=1,
            cap=90,
            method="GET",
            path=history,
            headers=session("auditor"),
            measure="p50",
        ),
        dict(
            name="CSV export, all orders",
            clients=1,
            n=1,
            cap=1,
            method="GET",
            path=export,
            headers=session("auditor"),
            measure="rows",
        ),
    ]


def run_size(rows: int, args) -> list[dict]:
    db = f"{args.db_prefix}_{label(rows)}"
    ensure_db(db, rows, args.reuse)
    env = env_for(db)
    prep = subprocess.run(
        [sys.executable, __file__, "--child", "prepare"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(prep.stdout.strip().splitlines()[-1])
    psql("VACUUM ANALYZE", db)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "--timeout",
            "900",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    results = []
    try:
        wait_for_server()
        floor_headers = {"Accept": "application/json"}
        # Warm each path once per worker (imports, connections, plans, per-process caches).
        for sc in scenarios(info, -1, 1):
            if sc["method"] == "GET" and sc["measure"] == "p50":
                load("GET", sc["path"], headers=sc["headers"], n=4, clients=2, cap=120)
        for rep in range(args.reps):
            for sc in scenarios(info, rep, args.scale):
                fl = load(
                    "GET",
                    "/api/v1/ping/",
                    headers=floor_headers,
                    n=max(100, 25 * sc["clients"]),
                    clients=sc["clients"],
                    cap=20,
                )
                r = load(
                    sc["method"],
                    sc["path"],
                    headers=sc["headers"],
                    body_fn=sc.get("body_fn"),
                    n=sc["n"],
                    clients=sc["clients"],
                    cap=sc["cap"],
                )
                if sc["measure"] == "rows":
                    r["rows_per_s"] = (r["lines"] - 1) / r["seconds"]
                r.update(name=sc["name"], measure=sc["measure"], rep=rep, rows=rows, floor=fl)
                results.append(r)
                print(
                    json.dumps(
                        {k: v for k, v in r.items() if k != "floor"}
                        | {"floor_p50": fl["p50"], "floor_rps": fl["rps"]},
                        ensure_ascii=False,
                        default=str,
                    ),
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=60)
        if not args.keep:
            psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    return results


def table(results: list[dict]) -> str:
    """One row per scenario and size: the three repetitions' figures, their median, the floor
    and the ratio (median of the per-repetition ratios), and the load average."""
    lines = [
        "| scenario | orders | figure per repetition | median | floor (same clients) "
        "| ratio to floor | load avg |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    names = list(dict.fromkeys(r["name"] for r in results))
    sizes = sorted({r["rows"] for r in results})
    for name in names:
        for rows in sizes:
            rs = [r for r in results if r["name"] == name and r["rows"] == rows]
            if not rs:
                continue
            m = rs[0]["measure"]
            bad = {k: v for r in rs for k, v in r["statuses"].items() if k >= 400}
            if m == "rps":
                figs = [r["rps"] for r in rs]
                ratios = [r["rps"] / r["floor"]["rps"] for r in rs]
                fmt, unit = "{:.1f}", " req/s"
                floor = f"{statistics.median(r['floor']['rps'] for r in rs):.0f} req/s"
            elif m == "p50":
                figs = [r["p50"] for r in rs]
                ratios = [r["p50"] / r["floor"]["p50"] for r in rs]
                fmt, unit = "{:.1f}", " ms"
                floor = f"{statistics.median(r['floor']['p50'] for r in rs):.2f} ms"
            else:
                figs = [r["rows_per_s"] for r in rs]
                ratios = []
                fmt, unit = "{:,.0f}", " rows/s"
                floor = "—"
            per = ", ".join(fmt.format(f) for f in figs)
            ratio = f"{statistics.median(ratios):.3f}×" if ratios else "—"
            loads = ", ".join(f"{r['load']:.1f}" for r in rs)
            note = f" (errors {bad})" if bad else ""
            lines.append(
                f"| {name}{note} | {rows:,} | {per} | {fmt.format(statistics.median(figs))}{unit} "
                f"| {floor} | {ratio} | {loads} |"
            )
    # The deep page against page 1 (same size, same repetition).
    for rows in sizes:
        p1 = [r["p50"] for r in results if r["rows"] == rows and r["name"] == "API list page 1"]
        deep = [
            r["p50"] for r in results if r["rows"] == rows and r["name"] == "API deep page (middle)"
        ]
        if p1 and deep:
            ratios = [d / p for d, p in zip(deep, p1, strict=False)]
            lines.append(
                f"| API deep page ÷ page 1 | {rows:,} | "
                + ", ".join(f"{x:.2f}" for x in ratios)
                + f" | {statistics.median(ratios):.2f} | | | |"
            )
    return "\n".join(lines)


def main() -> None:
    # A TERM (e.g. a time limit) unwinds like Ctrl-C: gunicorn is stopped, databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the request counts")
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    ap.add_argument("--reuse", action="store_true", help="reuse loaded databases of the size")
    ap.add_argument("--db-prefix", default="bench_pread")
    ap.add_argument("--seed-only", action="store_true")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        code = os.environ.get("BENCH_CODE")
        sys.path.insert(0, code or str(ROOT))
        if code:
            os.chdir(code)
        import django

        django.setup()
        if args.child[0] == "seed":
            child_seed(int(args.child[1]))
        elif args.child[0] == "prepare":
            print(json.dumps(child_prepare()))
        elif args.child[0] == "inproc":
            print(json.dumps(child_inproc(int(args.child[1]))))
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.seed_only:
        for rows in sizes:
            ensure_db(f"{args.db_prefix}_{label(rows)}", rows, args.reuse)
        return
    results = []
    for rows in sizes:
        results += run_size(rows, args)
    import platform

    print()
    print(
        f"gunicorn -w 2 (sync), DEBUG=0, PostgreSQL {psql('SHOW server_version')}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.reps} repetitions"
    )
    print()
    print(table(results))


if __name__ == "__main__":
    main()
