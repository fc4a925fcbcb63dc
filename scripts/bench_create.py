"""The create (`POST /api/v1/tickets/` as a frontline user) alone: its in-process profile, or
its req/s over HTTP with 8 clients beside the floor (`GET /api/v1/ping/`), back to back.

Run from the checkout against a database that `scripts/bench_http.py` or
`scripts/bench_writes.py` seeded (users bench_front, a category bench1 or broadband_fault),
with the bench's environment (DATABASE_URL, DEBUG=0, SECRET_KEY, ALLOWED_HOSTS=127.0.0.1,
testserver, CONN_MAX_AGE=600, API_THROTTLE_USER=100000000/minute, LOG_LEVEL=WARNING):

    .venv/bin/python scripts/bench_create.py profile 200 --top 30   # cProfile of 200 creates
    .venv/bin/python scripts/bench_create.py http --reps 3          # gunicorn -w 2, 8 clients

`profile` prints the statements per create (with each one's median wall ms), the Django
process's and its PostgreSQL backend's CPU ms per create, and the top frames by own and by
cumulative CPU time (ms per create; all code, then the project's code only). `http` starts
gunicorn (-w 2, sync) on 127.0.0.1, then per repetition measures the floor and the create with
the same 8 clients and prints req/s, p50 and the load average. Each run adds its creates to
the database. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The project's own modules, for the third listing (cumulative, project code only).
PROJECT = r"/(api|workorders|sla|customers|notifications|accounts|reports|config)/.*\.py"


def fixtures() -> dict:
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from workorders.models import Category

    front = User.objects.get(username="bench_front")
    cat = Category.objects.filter(code__in=("bench1", "broadband_fault")).order_by("code").first()
    return {"token": Token.objects.get_or_create(user=front)[0].key, "category": cat.pk}


def body(category: int, stamp: int, i: int) -> dict:
    return {
        "category": category,
        "customer_phone": f"138{(stamp + i) % 100_000_000:08d}",
        "description": f"压测报单 {i}",
    }


def _pg_cpu(pid: int) -> float:
    """CPU seconds (user + system) the PostgreSQL backend `pid` has used (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(n: int, top: int) -> None:
    import cProfile
    import pstats

    from django.db import connection
    from rest_framework.test import APIClient

    fx = fixtures()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {fx['token']}")
    stamp = int(time.time() * 1000) % 100_000_000

    def create(i):
        r = client.post("/api/v1/tickets/", body(fx["category"], stamp, i), format="json")
        assert r.status_code == 201, r.content

    for i in range(5):  # warm up: imports, per-process caches, compiled SQL
        create(i)
    statements: list[str] = []

    def counted(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        create(10)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    pg0 = _pg_cpu(backend)
    timed: dict[str, list[float]] = {}

    def timing(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.setdefault(sql, []).append(time.perf_counter() - t)

    w, c = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(timing):
        for i in range(n):
            create(100 + i)
    plain_wall = (time.perf_counter() - w) / n * 1000
    plain_cpu = (time.process_time() - c) / n * 1000
    pg_cpu = (_pg_cpu(backend) - pg0) / n * 1000
    # CPU time, not wall: on a shared machine the wall clock mostly measures waiting for a core
    # (and for PostgreSQL, itself waiting for one); the database's CPU is counted above.
    prof = cProfile.Profile(time.process_time)
    w, c = time.perf_counter(), time.process_time()
    prof.enable()
    for i in range(n):
        create(100 + n + i)
    prof.disable()
    wall = (time.perf_counter() - w) / n * 1000
    cpu = (time.process_time() - c) / n * 1000
    print(
        f"without the profiler: {plain_cpu:.1f} ms CPU in Django, {pg_cpu:.1f} ms CPU in its "
        f"PostgreSQL backend, {plain_wall:.1f} ms wall per create"
    )
    print(f"{len(statements)} statements per create; under cProfile {cpu:.1f} ms CPU, ", end="")
    print(f"{wall:.1f} ms wall each")
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("statements of one create, with the median wall ms of each over the plain run:")
    for sql in statements:
        ms = statistics.median(timed[sql]) * 1000 if sql in timed else float("nan")
        print(f"  {ms:6.2f}  {sql[:110]}".replace("\n", " "))
    for key in ("tottime", "cumulative", "project"):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).sort_stats("cumulative" if key == "project" else key)
        stats.print_stats(*([PROJECT] if key == "project" else []), top)
        lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
        start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
        print(f"\ntop {top} by {key} (ms per create: own, cumulative)")
        for ln in lines[start + 1 :]:
            parts = ln.split(None, 5)
            if len(parts) < 6:
                continue
            name = parts[5].replace(str(ROOT) + "/", "")
            name = name.split("site-packages/")[-1]
            own, cum = float(parts[1]) / n * 1000, float(parts[3]) / n * 1000
            print(f"{own:8.2f} {cum:8.2f}  {parts[0]:>9}  {name}")


def http(reps: int, n: int, port: int) -> None:
    import bench_http
    from bench_http import load, wait_for_server

    bench_http.PORT = port
    fx = fixtures()
    from django.db import connection

    connection.close()
    env = {**os.environ, "STATIC_ROOT": os.environ.get("STATIC_ROOT", "/tmp/bench_create_static")}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "300"],
        cwd=ROOT,
        env=env,
    )
    headers = {"Accept": "application/json", "Authorization": f"Token {fx['token']}"}
    stamp = int(time.time() * 1000) % 100_000_000
    try:
        wait_for_server()
        # Warm both workers: imports, connections, per-process caches.
        load("GET", "/api/v1/ping/", headers={}, n=50, clients=8, cap=30)
        load(
            "POST",
            "/api/v1/tickets/",
            headers=headers,
            body_fn=lambda i: body(fx["category"], stamp + 5_000_000, i),
            n=40,
            clients=8,
            cap=60,
        )
        ratios = []
        for rep in range(reps):
            fl = load("GET", "/api/v1/ping/", headers={}, n=1000, clients=8, cap=20)
            cr = load(
                "POST",
                "/api/v1/tickets/",
                headers=headers,
                body_fn=lambda i, r=rep: body(fx["category"], stamp + 100_000 * r, i),
                n=n,
                clients=8,
                cap=120,
            )
            ratios.append(cr["rps"] / fl["rps"])
            print(
                f"rep {rep}: floor {fl['rps']:.0f} req/s (p50 {fl['p50']:.1f} ms), "
                f"create {cr['rps']:.1f} req/s (p50 {cr['p50']:.1f} ms) {cr['statuses']}, "
                f"ratio {ratios[-1]:.3f}, load {cr['load']:.2f}",
                flush=True,
            )
        print(f"median ratio {statistics.median(ratios):.3f}")
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("profile", "http"))
    parser.add_argument("n", type=int, nargs="?", default=400)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_HTTP_PORT", "8795")))
    args = parser.parse_args()
    import django

    django.setup()
    if args.mode == "profile":
        profile(args.n, args.top)
    else:
        http(args.reps, args.n, args.port)


if __name__ == "__main__":
    main()
