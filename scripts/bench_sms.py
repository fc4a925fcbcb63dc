"""Benchmark: texts to customers when many orders change state in one sweep window.

Loads N suspended orders whose suspension has just ended — with their paused promise clocks
and status links, each customer a different mobile number — into a scratch PostgreSQL database
(INSERT … SELECT generate_series, not the ORM). One SLA sweep (`sla_sweep`) resumes them all;
each resume writes a "resumed" text into the outbox in its own transaction. From the start,
R relay processes (`outbox_relay` with the SMS sender and the `http` backend) send the texts
to a gateway stub on 127.0.0.1 (a separate process that answers `{"message_id": …}`). A
monitor samples every few seconds: texts written, sent, the outbox backlog (pending texts due)
and the relays' resident memory. Quiet hours are off for the run (the machine's clock may be
at night); the daily cap and the opt-out check run as in production.

    .venv/bin/python scripts/bench_sms.py --orders 100000 --relays 4 --write

The scratch database (default bench_sms) is dropped at the end unless --keep. Bounded: the
stub and relays are stopped when all texts are sent or after --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
SECRET = "bench-gateway-secret"


def admin_exec(sql: str) -> None:
    conn = psycopg2.connect(f"{BASE}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def bench_env(db: str, port: int) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{BASE}/{db}",
        DEBUG="0",
        SECRET_KEY="bench-secret-key-not-for-production-use-only-here-0123456789",
        ALLOWED_HOSTS="127.0.0.1",
        SMS_CALLBACK_SECRET="bench-callback-secret",
        DJANGO_SETTINGS_MODULE="config.settings",
        NOTIFY_EMAIL="0",
        CELERY_BROKER_URL="memory://",  # the doorbell has nobody to ring; relays poll
        SMS_BACKEND="http",
        SMS_HTTP_URL=f"http://127.0.0.1:{port}/sms",
        SMS_HTTP_SECRET=SECRET,
        SMS_QUIET_HOURS="",
        SMS_DAILY_CAP="6",
        PUBLIC_BASE_URL="https://whistle.example.com",
    )
    return env


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


# --------------------------------------------------------------------------- the gateway stub


def run_gateway(port: int) -> None:
    """The operator's SMS platform, reduced to accepting: 200 and a message id per POST, over
    kept-alive HTTP/1.1 connections; GET answers the counts. A few lines of asyncio rather than
    http.server, whose per-request parsing would take the CPU the benchmark measures (the stub
    runs on the same two cores)."""
    import asyncio

    stats = {"posts": 0}
    keys: set[bytes] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, key = 0, b""
                for line in head.split(b"\r\n")[1:]:
                    name, _sep, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"x-whistle-delivery":
                        key = value.strip()
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"POST"):
                    stats["posts"] += 1
                    keys.add(key)
                    data = b'{"message_id":"g-%d"}' % stats["posts"]
                else:
                    data = json.dumps({"posts": stats["posts"], "keys": len(keys)}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await stop.wait()

    asyncio.run(serve())


def gateway_stats(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return json.loads(r.read())


# --------------------------------------------------------------------------- relays


def run_relay() -> None:
    """One relay process: run the outbox relay until told to stop (SIGTERM)."""
    import django

    django.setup()
    from notifications.outbox import outbox_relay

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        result = outbox_relay(limit=500, budget_seconds=10)
        if result.claimed == 0:
            stop.wait(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --------------------------------------------------------------------------- loading


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def fixtures() -> dict:
    from django.contrib.auth.models import Group

    from accounts.models import Department, User
    from sla.models import SlaPolicy
    from workorders.models import Category

    network = Department.objects.get(code="network")
    business = Department.objects.get(code="business")

    def user(name, role, dept):
        u, _ = User.objects.get_or_create(username=name, defaults={"department": dept})
        u.groups.add(Group.objects.get(name=role))
        return u

    reporter = user("bench_front", "frontline", business)
    handler = user("bench_handler", "handler", network)
    category, _ = Category.objects.get_or_create(code="bench", defaults={"name": "宽带故障"})
    return {
        "reporter": reporter.pk,
        "handler": handler.pk,
        "department": network.pk,
        "category": category.pk,
        "policy": SlaPolicy.objects.get(kind="promise", urgency="general").pk,
    }


def load(n: int, now: datetime, ids: dict) -> float:
    """N suspended orders (suspended 3 h ago until 2 min ago), paused promise clocks, links."""
    from django.db import connection
    from psycopg2.extras import execute_values

    from customers import tokens
    from customers.models import StatusLink
    from sla.models import Clock
    from workorders.models import Ticket

    overrides = {
        "id": None,
        "number": "'GS' || lpad(g::text, 14, '0')",
        "reporter_id": str(ids["reporter"]),
        "reported_at": "%(now)s - interval '5 hours'",
        "category_id": str(ids["category"]),
        "customer_phone": "'139' || lpad(g::text, 8, '0')",
        "description": "'宽带经常掉线，晚上无法上网'",
        "state": "'suspended'",
        "department_id": str(ids["department"]),
        "handler_id": str(ids["handler"]),
        "dispatched_at": "%(now)s - interval '4 hours'",
        "claimed_at": "%(now)s - interval '4 hours'",
        "suspended_until": "%(now)s - interval '2 minutes'",
        "suspension_count": "1",
        "promise_due_at": "%(now)s + interval '43 hours'",
        "created_at": "now()",
        "updated_at": "now()",
    }
    cols, exprs = [], []
    for f in Ticket._meta.concrete_fields:
        if f.column in overrides:
            if overrides[f.column] is None:
                continue
            cols.append(f.column)
            exprs.append(overrides[f.column])
        else:
            cols.append(f.column)
            exprs.append("NULL" if f.null else literal(f.get_default()))
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET synchronous_commit = off")
        cur.execute(
            f"INSERT INTO {Ticket._meta.db_table} ({', '.join(cols)}) "
            f"SELECT {', '.join(exprs)} FROM generate_series(1, %(n)s) AS g",
            {"n": n, "now": now},
        )
        # The promise clock, paused when the suspension began (3 hours ago).
        cur.execute(
            f"""
            INSERT INTO {Clock._meta.db_table}
              (ticket_id, kind, department_id, policy_id, started_at, target_seconds,
               extended_seconds, paused_seconds, paused_at, original_due_at, due_at, risk_at,
               outcome, outcome_original, voided, level, next_threshold_at)
            SELECT t.id, 'promise', t.department_id, %(policy)s, t.reported_at, 172800,
                   0, 0, %(now)s - interval '3 hours', t.reported_at + interval '48 hours',
                   t.reported_at + interval '48 hours', t.reported_at + interval '38.4 hours',
                   '', '', FALSE, 0, NULL
            FROM {Ticket._meta.db_table} t
            """,
            {"policy": ids["policy"], "now": now},
        )
        cur.execute(
            f"UPDATE {Ticket._meta.db_table} t SET promise_clock_id = c.id"
            f" FROM {Clock._meta.db_table} c WHERE c.ticket_id = t.id"
        )
        cur.execute(f"SELECT id FROM {Ticket._meta.db_table}")
        rows = []
        for (pk,) in cur.fetchall():
            nonce = f"{pk:032x}"
            rows.append((pk, nonce, tokens.digest(tokens.derive(pk, nonce)), now))
        execute_values(
            cur,
            f"INSERT INTO {StatusLink._meta.db_table} (ticket_id, nonce, token_hash, created_at)"
            " VALUES %s",
            rows,
            page_size=5000,
        )
        cur.execute("SET session_replication_role = DEFAULT")
        for table in (Ticket, Clock, StatusLink):
            cur.execute(f"ANALYZE {table._meta.db_table}")
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- the run


def counts(cur) -> tuple[int, int, int, int]:
    cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'sent'),"
        " count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()),"
        " count(*) FILTER (WHERE status NOT IN ('pending', 'sent'))"
        " FROM notifications_delivery WHERE channel = 'sms'"
    )
    return cur.fetchone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench_sms")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--relays", type=int, default=4)
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument(
        "--concurrent", action="store_true", help="start the relays with the sweep, not after it"
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--write", action="store_true", help="write to docs/benchmarks.md")
    parser.add_argument("--gateway", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gateway:
        return run_gateway(args.port)
    if args.relay:
        return run_relay()

    admin_exec(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin_exec(f'CREATE DATABASE "{args.db}"')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up as on Ctrl-C
    env = bench_env(args.db, args.port)
    children: list[subprocess.Popen] = []
    try:
        setup_django(env)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        ids = fixtures()
        now = datetime.now(UTC).replace(microsecond=0)
        load_s = load(args.orders, now, ids)
        print(f"loaded {args.orders:,} suspended orders in {load_s:.0f} s", flush=True)
        me = [sys.executable, str(Path(__file__).resolve()), "--port", str(args.port)]
        gateway = subprocess.Popen([*me, "--gateway"], env=env)
        children.append(gateway)
        time.sleep(1.0)
        relays: list[subprocess.Popen] = []

        samples: list[dict] = []
        done = threading.Event()
        started = time.perf_counter()

        def monitor() -> None:
            conn = psycopg2.connect(env["DATABASE_URL"])
            conn.autocommit = True
            analyzed = time.perf_counter()
            with conn.cursor() as cur:
                while True:
                    if time.perf_counter() - analyzed > 30:
                        # What autovacuum's auto-analyze does on a production database (it did
                        # not keep up here): without fresh statistics the planner, which saw
                        # only suspended orders, reads the state index for every accepted one.
                        cur.execute("ANALYZE workorders_ticket, sla_clock, notifications_delivery")
                        analyzed = time.perf_counter()
                    written, sent, backlog, other = counts(cur)
                    samples.append(
                        {
                            "t": time.perf_counter() - started,
                            "written": written,
                            "sent": sent,
                            "backlog": backlog,
                            "other": other,
                            "rss": [round(rss_mb(p.pid), 1) for p in relays],
                            "load": os.getloadavg()[0],
                        }
                    )
                    s = samples[-1]
                    print(
                        f"{s['t']:7.1f}s written {written:>7,} sent {sent:>7,} backlog"
                        f" {backlog:>7,} rss {s['rss']} load {s['load']:.1f}",
                        flush=True,
                    )
                    if sent + other >= args.orders or s["t"] > args.timeout:
                        break
                    done.wait(args.sample)
            conn.close()
            done.set()

        watcher = threading.Thread(target=monitor, daemon=True)
        watcher.start()
        from sla.engine import sla_sweep

        # Queue: one sweep resumes every order (relays running alongside with --concurrent).
        if args.concurrent:
            relays += [subprocess.Popen([*me, "--relay"], env=env) for _ in range(args.relays)]
            children += relays
        t0 = time.perf_counter()
        result = sla_sweep(now=now)
        sweep_s = time.perf_counter() - t0
        print(f"sweep: resumed {result.resumed:,} in {sweep_s:.0f} s", flush=True)
        # Deliver: the relays drain the outbox.
        deliver_t0 = time.perf_counter()
        if not args.concurrent:
            relays += [subprocess.Popen([*me, "--relay"], env=env) for _ in range(args.relays)]
            children += relays
        watcher.join(args.timeout + 60)
        deliver_s = time.perf_counter() - deliver_t0
        relay_cpu = sum(cpu_seconds(p.pid) for p in relays)
        gateway_cpu = cpu_seconds(gateway.pid)
        total_s = time.perf_counter() - started
        stats = gateway_stats(args.port)
        with connection.cursor() as cur:
            written, sent, _backlog, other = counts(cur)
            cur.execute(
                "SELECT min(sent_at), max(sent_at) FROM notifications_delivery"
                " WHERE channel = 'sms' AND status = 'sent'"
            )
            first, last = cur.fetchone()
            cur.execute("SELECT version()")
            pg = cur.fetchone()[0].split(" on ")[0]
        # The relays record `sent_at` with the real clock: first to last text sent.
        span = (last - first).total_seconds() if first and last else 0
        rate = sent / span if span else 0
        summary = {
            "orders": args.orders,
            "relays": args.relays,
            "load_s": load_s,
            "sweep_s": sweep_s,
            "deliver_s": deliver_s,
            "concurrent": args.concurrent,
            "resumed": result.resumed,
            "total_s": total_s,
            "written": written,
            "sent": sent,
            "other": other,
            "span_s": span,
            "rate": rate,
            "relay_cpu_ms": 1000 * relay_cpu / max(sent, 1),
            "gateway_cpu_ms": 1000 * gateway_cpu / max(sent, 1),
            "load_avg": os.getloadavg()[0],
            "gateway": stats,
            "pg": pg,
        }
        print(json.dumps(summary, default=str), flush=True)
        if args.write:
            write_doc(summary, samples)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        if not args.keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            admin_exec(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def write_doc(s: dict, samples: list[dict]) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    heading = "## Customer texts (SMS)"
    after = ""
    if heading in text:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        after = "" if end == -1 else text[end:]
        text = text[:start].rstrip() + "\n"
    # The delivery phase, about a dozen rows, first and last included.
    phase = [x for x in samples if x["rss"]] or samples
    step = max(1, len(phase) // 12)
    shown = phase[::step]
    if shown[-1] is not phase[-1]:
        shown.append(phase[-1])
    rows, prev = [], None
    for x in shown:
        rate = ""
        if prev is not None and x["t"] > prev["t"]:
            rate = f"{(x['sent'] - prev['sent']) / (x['t'] - prev['t']):,.0f}"
        rss = ", ".join(f"{r:.0f}" for r in x["rss"])
        rows.append(
            f"| {x['t']:.0f} | {x['sent']:,} | {x['backlog']:,} | {rate} | {rss} |"
            f" {x['load']:.1f} |"
        )
        prev = x
    loads = [x["load"] for x in phase]
    when = "alongside the sweep" if s["concurrent"] else "once the sweep has committed"
    text += f"""
{heading}

`scripts/bench_sms.py --orders {s["orders"]} --relays {s["relays"]}` ({datetime.now(UTC):%Y-%m-%d},
{s["pg"]}, shared 2-core machine: the sweep, the relays, the gateway stub and PostgreSQL on the
same two cores). {s["orders"]:,} suspended orders whose suspension has just ended (loaded in
{s["load_s"]:.0f} s with `INSERT … SELECT`, each customer a different mobile number).

- **Queued**: one SLA sweep resumes them — {s["resumed"]:,} resumes in {s["sweep_s"]:.0f} s
  ({s["resumed"] / s["sweep_s"]:,.0f} orders/s), each writing its "resumed" text to the outbox
  in the resume's transaction.
- **Delivered**: {s["relays"]} relay processes (`outbox_relay` with the SMS sender, `http`
  backend), started {when}, send {s["sent"]:,} texts ({s["other"]:,} failed or skipped) to a
  gateway stub on 127.0.0.1 in {s["span_s"]:.0f} s (first to last `sent_at`):
  **{s["rate"]:,.0f} texts/s** (target ≥ 500/s: {"met" if s["rate"] >= 500 else "NOT met"} at
  load average {min(loads):.1f}–{max(loads):.1f}). The stub received
  {s["gateway"]["posts"]:,} POSTs with {s["gateway"]["keys"]:,} distinct idempotency keys.
- **CPU per text**: relay {s["relay_cpu_ms"]:.2f} ms, stub {s["gateway_cpu_ms"]:.2f} ms (plus
  PostgreSQL's share).

Delivery, sampled (t from the sweep's start; backlog = pending texts due now; texts/s since the
previous row; relay resident memory):

| t (s) | sent | backlog | texts/s | relay RSS (MiB) | load avg |
|---:|---:|---:|---:|---|---:|
{chr(10).join(rows)}
"""
    path.write_text(text.rstrip("\n") + "\n" + after if after else text)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
