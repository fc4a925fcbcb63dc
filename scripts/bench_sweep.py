"""Benchmark: does the SLA sweep cost follow what is due, not what is open? (issue 3)

Loads N open orders with running promise clocks into a scratch PostgreSQL database
(INSERT … SELECT generate_series, not the ORM), of which DUE have crossed a threshold
(remind, chase or breach), and times one sweep; then the same with 10,000 orders and the same
number due. Prints the figures and the ratio; `--write` appends them to docs/benchmarks.md.

    .venv/bin/python scripts/bench_sweep.py --write

`--calendars` puts the general promise rule on a 7×13 desk calendar with China's 2026
holidays (a new rule version, as an admin edit would) and every loaded clock on it: the due
clocks' start, due and marks are computed in working time, so the sweep walks the calendar for
each of them. `--create N` also times N reports through `workorders.services.ticket_report`
(and the time spent inside `sla.services.clock_start`); with `--create N --orders 0` only that
(the script runs unchanged on the code before calendars, for the before/after figure).

The scratch database (default bench_i3) is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PLAN = ""
CALENDARS = False
CPU: list[float] = []  # Python CPU seconds of each timed sweep (the rest is DB and waiting)
LOAD: list[float] = []  # 1-minute load average after each timed sweep (shared machine)


def admin_exec(sql: str) -> None:
    conn = psycopg2.connect(f"{BASE}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def setup_django(db: str) -> None:
    os.environ["DATABASE_URL"] = f"{BASE}/{db}"
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["NOTIFY_EMAIL"] = "0"
    import django

    django.setup()


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def load(n: int, due: int, now: datetime, ids: dict) -> float:
    t = _load(n, due, now, ids)
    if ids.get("calendar"):
        t0 = time.perf_counter()
        working_time_marks(now, ids)
        t += time.perf_counter() - t0
    return t


def working_time_marks(now: datetime, ids: dict) -> None:
    """Give the due clocks starts and marks in working time, as clock_start and the sweep
    would have left them: each group's working time elapsed is 55 %, 85 % or 105 % of the
    target, so each due clock crosses exactly one threshold at `now`."""
    from sla.models import Clock
    from sla.reference import calendar_of, rule

    cal = calendar_of(ids["calendar"])
    policy = rule(ids["policy"])
    target = timedelta(hours=48)
    for level, fraction in ((0, 0.55), (1, 0.85), (2, 1.05)):
        # The wall-clock span before `now` holding `fraction` of the target in working time.
        lo, hi = target * fraction, target * fraction * 10
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if cal.between(now - mid, now) >= target * fraction:
                hi = mid
            else:
                lo = mid
        start = now - hi
        allowed = target
        due_at = cal.add(start, allowed)
        Clock.objects.filter(next_threshold_at__lte=now, level=level).update(
            started_at=start,
            original_due_at=due_at,
            due_at=due_at,
            risk_at=cal.add(start, allowed * (policy.chase_percent / 100)),
            next_threshold_at=cal.add(start, allowed * (policy.threshold_percent(level + 1) / 100)),
        )


def _load(n: int, due: int, now: datetime, ids: dict) -> float:
    """Insert n accepted orders and their promise clocks; the first `due` are due at `now`:
    80 % for the remind, 15 % for the chase and 5 % for the breach (which writes a 督办)."""
    from django.db import connection

    from sla.models import Clock
    from workorders.models import Ticket

    overrides = {
        "id": None,
        "number": "'GB' || lpad(g::text, 14, '0')",
        "reporter_id": str(ids["reporter"]),
        "reported_at": "%(start)s",
        "category_id": str(ids["category"]),
        "customer_phone": "'13800138000'",
        "description": "'宽带经常掉线，晚上无法上网'",
        "state": "'accepted'",
        "department_id": str(ids["department"]),
        "handler_id": str(ids["handler"]),
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
    target = 48 * 3600
    # Start offsets (as a fraction of the target) put each due order just past its threshold
    # and every other order at 0–40 % of its target (nothing due).
    start_sql = (
        "(%(now)s - make_interval(secs => %(target)s * CASE"
        " WHEN g <= %(remind)s THEN 0.55"
        " WHEN g <= %(chase)s THEN 0.85"
        " WHEN g <= %(due)s THEN 1.05"
        " ELSE 0.40 * ((g::bigint * 7919) %% 1000) / 1000.0 END))"
    )
    params = {
        "now": now,
        "target": target,
        "remind": int(due * 0.80),
        "chase": int(due * 0.95),
        "due": due,
        "n": n,
    }
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # skip FK triggers while loading
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '256MB'")
        sql = (
            f"INSERT INTO {Ticket._meta.db_table} ({', '.join(cols)}) "
            f"SELECT {', '.join(exprs)} FROM generate_series(1, %(n)s) AS g"
        ).replace("%(start)s", start_sql)
        cur.execute(sql, params)
        cal_col = ", calendar_id" if ids.get("calendar") else ""
        cal_val = ", %(cal)s" if ids.get("calendar") else ""
        # Clocks: level and next threshold as the engine would have left them.
        cur.execute(
            f"""
            INSERT INTO {Clock._meta.db_table}
              (ticket_id, kind, department_id, policy_id, started_at, target_seconds,
               extended_seconds, paused_seconds, original_due_at, due_at, risk_at,
               outcome, outcome_original, voided, level, next_threshold_at{cal_col})
            SELECT t.id, 'promise', t.department_id, %(policy)s, t.reported_at, %(target)s,
                   0, 0, t.reported_at + interval '48 hours', t.reported_at + interval '48 hours',
                   t.reported_at + interval '38.4 hours', '', '', FALSE, lv.level,
                   t.reported_at + make_interval(secs => %(target)s * lv.pct / 100.0){cal_val}
            FROM {Ticket._meta.db_table} t
            CROSS JOIN LATERAL (SELECT CASE
                WHEN t.reported_at + interval '24 hours' > %(now)s THEN 0
                WHEN t.reported_at + interval '38.4 hours' > %(now)s THEN 0
                WHEN t.reported_at + interval '48 hours' > %(now)s THEN 1
                ELSE 2 END AS level) l0
            CROSS JOIN LATERAL (SELECT l0.level AS level,
                CASE l0.level WHEN 0 THEN 50 WHEN 1 THEN 80 ELSE 100 END AS pct) lv
            """,
            {"policy": ids["policy"], "target": target, "now": now, "cal": ids.get("calendar")},
        )
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute(f"ANALYZE {Ticket._meta.db_table}")
        cur.execute(f"ANALYZE {Clock._meta.db_table}")
        cur.execute(
            f"SELECT count(*) FROM {Clock._meta.db_table} WHERE next_threshold_at <= %s", [now]
        )
        (found,) = cur.fetchone()
    assert found == due, f"expected {due} due clocks, found {found}"
    return time.perf_counter() - t0


def reset_due(now: datetime) -> None:
    """Put the due clocks back as they were before the sweep (for repeated timings)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE sla_clock c SET level = d.level, next_threshold_at = d.next_threshold_at"
            " FROM bench_due d WHERE c.id = d.id"
        )
        cur.execute(
            "TRUNCATE sla_slaevent, notifications_notification, workorders_supervision,"
            " notifications_delivery CASCADE"
        )
        cur.execute(
            "UPDATE workorders_ticket SET supervise_count = 0, escalation_level = 0"
            " WHERE id IN (SELECT ticket_id FROM sla_clock c JOIN bench_due d ON c.id = d.id)"
        )


def time_sweeps(now: datetime, runs: int) -> list[float]:
    from django.db import connection

    from sla.engine import sla_sweep

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_due")
        cur.execute(
            "CREATE TABLE bench_due AS SELECT id, level, next_threshold_at FROM sla_clock"
            " WHERE next_threshold_at <= %s",
            [now],
        )
    sla_sweep(now=now - timedelta(days=1))  # warm-up: connection, caches; nothing due
    global PLAN
    from sla.engine import due_clocks

    with connection.cursor() as cur:
        sql, params = due_clocks(now)[:500].query.sql_with_params()
        cur.execute("EXPLAIN " + sql + " FOR UPDATE SKIP LOCKED", params)
        PLAN = "\n".join(r[0] for r in cur.fetchall())
    times = []
    for _ in range(runs):
        reset_due(now)
        t0, c0 = time.perf_counter(), time.process_time()
        result = sla_sweep(now=now)
        times.append(time.perf_counter() - t0)
        CPU.append(time.process_time() - c0)
        LOAD.append(os.getloadavg()[0])
        assert result.events == due_count(), result
    return times


def due_count() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench_due")
        return cur.fetchone()[0]


def truncate_orders() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE workorders_ticket, sla_clock, sla_slaevent, notifications_notification,"
            " workorders_supervision, workorders_auditentry CASCADE"
        )


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
    user("bench_lead", "lead", network)
    user("bench_sup", "supervisor", business)
    category, _ = Category.objects.get_or_create(code="bench", defaults={"name": "宽带故障"})
    # The newest version of the general promise rule (a single row before rule versions).
    policy = SlaPolicy.objects.filter(kind="promise", urgency="general").order_by("-pk").first()
    ids = {
        "reporter": reporter.pk,
        "handler": handler.pk,
        "department": network.pk,
        "category": category.pk,
        "policy": policy.pk,
    }
    if CALENDARS:
        ids.update(calendars_on(network))
    return ids


def calendars_on(department) -> dict:
    """A 7×13 desk calendar with China's 2026 holidays on the general promise rule (a new
    version) and on the department's sign-for clocks."""
    from sla.models import Calendar, DepartmentCalendar, SlaPolicy
    from sla.services import calendar_load_holidays, sla_rule_save

    desk = Calendar.objects.create(
        code="bench_desk",
        name="坐席 7×13",
        **{f"hours_{d}": "08:00-21:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    calendar_load_holidays(calendar=desk, year=2026)
    DepartmentCalendar.objects.create(department=department, calendar=desk)
    rule = SlaPolicy.objects.get(kind="promise", urgency="general", active=True)
    rule.calendar = desk
    rule = sla_rule_save(rule=rule)
    return {"calendar": desk.pk, "policy": rule.pk}


def time_creates(n: int, ids: dict) -> dict:
    """Mean wall time of one report (ticket_report: order, dispatch and promise clocks, audit
    row) and of the clock starts inside it, over `n` reports after a warm-up."""
    from accounts.models import User
    from sla import services as sla_services
    from workorders import services
    from workorders.models import Category

    reporter = User.objects.get(pk=ids["reporter"])
    category = Category.objects.get(pk=ids["category"])
    spent = [0.0, 0.0]  # wall, CPU seconds inside clock_start
    original = sla_services.clock_start

    def timed(**kw):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return original(**kw)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += time.process_time() - c0

    sla_services.clock_start = timed
    try:

        def one(i: int) -> None:
            services.ticket_report(
                by=reporter,
                category=category,
                customer_phone=f"139{i:08d}",
                description="宽带经常掉线，晚上无法上网",
            )

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        for i in range(20):  # warm-up: connection, caches, the rules' and calendars' copy
            one(10_000_000 + i)
        with CaptureQueriesContext(connection) as ctx:
            one(10_000_100)
        spent[:] = [0.0, 0.0]
        rounds, cpu = [], []
        for r in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(n):
                one(r * n + i)
            rounds.append((time.perf_counter() - t0) / n)
            cpu.append((time.process_time() - c0) / n)
        return {
            "report_ms": [x * 1000 for x in rounds],
            "report_cpu_ms": [x * 1000 for x in cpu],
            "clock_start_ms": spent[0] * 1000 / (3 * n),
            "clock_start_cpu_ms": spent[1] * 1000 / (3 * n),
            "queries": len(ctx.captured_queries),
        }
    finally:
        sla_services.clock_start = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench_i3")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--write", action="store_true", help="append to docs/benchmarks.md")
    parser.add_argument("--calendars", action="store_true", help="clocks on a business calendar")
    parser.add_argument("--create", type=int, default=0, help="also time N reports")
    args = parser.parse_args()
    global CALENDARS
    CALENDARS = args.calendars

    admin_exec(f'DROP DATABASE IF EXISTS "{args.db}"')
    admin_exec(f'CREATE DATABASE "{args.db}"')
    try:
        setup_django(args.db)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        ids = fixtures()
        now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        figures = {}
        creates = None
        if args.create:
            creates = time_creates(args.create, ids)
            print(
                f"report: {', '.join(f'{x:.2f}' for x in creates['report_ms'])} ms per order"
                f" (median {statistics.median(creates['report_ms']):.2f},"
                f" CPU {statistics.median(creates['report_cpu_ms']):.2f});"
                f" in clock_start {creates['clock_start_ms']:.3f} ms,"
                f" CPU {creates['clock_start_cpu_ms']:.3f} ms per report;"
                f" {creates['queries']} queries per report; load avg {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        if not args.orders:
            return
        for n in (args.orders, args.small):
            truncate_orders()
            load_s = load(n, args.due, now, ids)
            CPU.clear()
            LOAD.clear()
            times = time_sweeps(now, args.runs)
            figures[n] = (load_s, times, list(CPU), list(LOAD))
            if n == args.orders:
                big_plan = PLAN
                print(PLAN)
            print(
                f"{n:>9,} orders, {args.due} due: load {load_s:.1f}s; sweep "
                + ", ".join(f"{t * 1000:.0f} ms" for t in times)
                + f" (median {statistics.median(times) * 1000:.0f} ms);"
                + f" python cpu median {statistics.median(CPU) * 1000:.0f} ms;"
                + f" load avg {max(LOAD):.1f}",
                flush=True,
            )
        big = statistics.median(figures[args.orders][1])
        small = statistics.median(figures[args.small][1])
        ratio = big / small
        print(f"ratio {args.orders:,} / {args.small:,}: {ratio:.2f}")
        with connection.cursor() as cur:
            cur.execute("SELECT version()")
            pg = cur.fetchone()[0].split(" on ")[0]
        connection.close()
        if args.write:
            write_doc(args, figures, ratio, pg, big_plan, creates)
    finally:
        if not args.keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            admin_exec(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def write_doc(args, figures, ratio: float, pg: str, plan: str, creates=None) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = "## SLA sweep (issue 3)"
    if args.calendars or creates:
        # Those runs are compared by hand with the natural-time and the previous code's runs.
        print("--write records the natural-time sweep only; see docs/benchmarks.md")
        return
    after = ""
    if heading in text:
        # Replace this section only; the sections after it stay where they are.
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        after = "" if end == -1 else text[end:]
        text = text[:start].rstrip() + "\n"
    big_ms = statistics.median(figures[args.orders][1]) * 1000
    rows = []
    for n, (load_s, times, cpu, loads) in figures.items():
        rows.append(
            f"| {n:,} | {args.due:,} | {load_s:.0f} s | "
            + ", ".join(f"{t * 1000:.0f}" for t in times)
            + f" | **{statistics.median(times) * 1000:.0f} ms** |"
            + f" {statistics.median(cpu) * 1000:.0f} ms | {min(loads):.1f}–{max(loads):.1f} |"
        )
    text += f"""
{heading}

`scripts/bench_sweep.py` ({datetime.now(UTC):%Y-%m-%d}, {pg}, shared 2-core machine).
Open orders with running promise clocks are loaded with `INSERT … SELECT generate_series`;
{args.due:,} of them have just crossed a threshold (80 % remind, 15 % chase, 5 % breach,
which also writes a 督办 through `tickets_supervise_by_system`). One sweep (`sla_sweep`)
records the events and writes the in-app notifications; timed {args.runs} times, the due
clocks reset in between.

| open orders | due | load | sweep runs (ms) | median | Python CPU (median) | load avg |
|---:|---:|---:|---|---:|---:|---:|
{chr(10).join(rows)}

Ratio 1M / 10k: **{ratio:.2f}** (target < 2: {"met" if ratio < 2 else "NOT met"}).
1M sweep median {big_ms:.0f} ms (target < 2 s: {"met" if big_ms < 2000 else "NOT met"} at
this load; the sweep's own Python CPU time is the column above, the rest is database
round trips, commits and waiting for a CPU on the shared machine, whose load average is
shown). The sweep reads only
`next_threshold_at <= now` through the partial index `clock_next_threshold`
(`FOR UPDATE SKIP LOCKED`, batches of {os.environ.get("SLA_SWEEP_BATCH", "500")}), so its cost
follows the due rows, not the open ones. Plan of the claim query at {args.orders:,} orders:

```
{plan}
```
"""
    path.write_text(text.rstrip("\n") + "\n" + after if after else text)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
