"""Benchmark: the back office's order changelist at 1,000,000 orders on PostgreSQL.

Creates a throw-away database (default bench_i6), migrates it, loads N orders and their
promise clocks with INSERT ... SELECT generate_series (no ORM loops), ANALYZEs, then renders
the changelist and the dashboard through Django's test client as a dispatcher (sees all) and
as a lead (one professional line), reporting the median render time and the query count of
each page. Drops the database at the end unless --keep.

    BENCH_PG=postgres://postgres@127.0.0.1:5432 \
        .venv/bin/python scripts/bench_admin.py --rows 1000000

Append the printed Markdown table to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def admin_db(host_url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{host_url}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


LOAD_SQL = """
-- Skip per-row FK trigger checks for the bulk load (the generated rows are consistent).
SET session_replication_role = replica;
WITH params AS (SELECT %(n)s::int AS n, %(now)s::timestamptz AS now)
INSERT INTO workorders_ticket (
    id, number, channel, reporter_id, reporter_department_id, reported_at,
    customer_name, customer_phone, customer_address, customer_region, star_level,
    is_elderly, claimed_escalation, category_id, urgency, urgency_reason, is_urgent,
    is_priority, title, description, state, version, department_id, dispatched_at,
    handler_id, return_count, return_rejected_count, last_return_reason, last_return_ruling,
    redispatch_count, suspension_count, extension_count, reply_result, reply_cause,
    visit_outcome, visit_satisfaction, visit_note, closed_at, redo_count, cancel_reason,
    is_repeat, chase_count, supervise_count, escalation_level, promise_clock_id,
    promise_due_at, created_at, updated_at
)
SELECT
    g,
    'GD' || to_char(rep, 'YYYYMMDD') || lpad(g::text, 6, '0'),
    'field', %(reporter)s, NULL, rep,
    '客户' || (g %% 9973), '138' || lpad((g %% 100000000)::text, 8, '0'), '', '杭州',
    CASE WHEN g %% 23 = 0 THEN 5 ELSE 3 END,
    g %% 19 = 0, g %% 41 = 0, %(category)s,
    CASE WHEN g %% 10 = 0 THEN 'urgent' ELSE 'general' END, '', g %% 10 = 0,
    (g %% 23 = 0 OR g %% 19 = 0 OR g %% 41 = 0),
    '', '宽带掉线，第' || g || '号投诉', st,
    1, CASE WHEN st = 'reported' THEN NULL ELSE (%(depts)s::bigint[])[1 + g %% %(ndepts)s] END,
    CASE WHEN st = 'reported' THEN NULL ELSE rep + interval '10 minutes' END,
    CASE WHEN st IN ('accepted', 'suspended', 'replied', 'closed') THEN %(handler)s END,
    0, 0, '', '', 0, 0, 0, '', '', '', '', '',
    CASE WHEN st = 'closed' THEN rep + interval '20 hours' END, 0, '', false, 0, 0,
    CASE WHEN st NOT IN ('closed', 'cancelled') AND rep < now - interval '72 hours'
         THEN 1 + g %% 3 ELSE 0 END,
    g, rep + CASE WHEN g %% 10 = 0 THEN interval '4 hours' ELSE interval '48 hours' END,
    rep, rep
FROM params, generate_series(1, (SELECT n FROM params)) AS g,
LATERAL (SELECT now - (g::double precision / n) * interval '180 days' AS rep) r,
LATERAL (SELECT CASE
    -- The last three days: orders in every state. Older: closed or cancelled, except a
    -- backlog of 2 %% still open (all of it overdue).
    WHEN rep > now - interval '72 hours' THEN CASE
        WHEN g %% 100 < 10 THEN 'reported'
        WHEN g %% 100 < 25 THEN 'dispatched'
        WHEN g %% 100 < 27 THEN 'return_requested'
        WHEN g %% 100 < 60 THEN 'accepted'
        WHEN g %% 100 < 65 THEN 'suspended'
        WHEN g %% 100 < 80 THEN 'replied'
        WHEN g %% 100 < 97 THEN 'closed'
        ELSE 'cancelled' END
    WHEN g %% 100 < 95 THEN 'closed'
    WHEN g %% 100 < 97 THEN 'cancelled'
    WHEN g %% 100 < 98 THEN 'accepted'
    WHEN g %% 100 < 99 THEN 'dispatched'
    ELSE 'replied' END AS st) s;

INSERT INTO sla_clock (
    id, ticket_id, kind, department_id, policy_id, started_at, target_seconds,
    extended_seconds, paused_seconds, paused_at, original_due_at, due_at, risk_at,
    stopped_at, outcome, outcome_original, voided, next_threshold_at, level
)
SELECT t.id, t.id, 'promise', NULL,
    CASE WHEN t.is_urgent THEN %(policy_urgent)s ELSE %(policy_general)s END,
    t.reported_at, CASE WHEN t.is_urgent THEN 14400 ELSE 172800 END, 0, 0,
    CASE WHEN t.state = 'suspended' THEN t.reported_at + interval '1 hour' END,
    t.promise_due_at, t.promise_due_at,
    t.reported_at + (t.promise_due_at - t.reported_at) * 0.8,
    CASE WHEN t.state IN ('replied', 'closed') THEN t.reported_at + interval '20 hours' END,
    CASE WHEN t.state IN ('replied', 'closed')
         THEN CASE WHEN t.is_urgent THEN 'missed' ELSE 'met' END ELSE '' END,
    CASE WHEN t.state IN ('replied', 'closed')
         THEN CASE WHEN t.is_urgent THEN 'missed' ELSE 'met' END ELSE '' END,
    t.state = 'cancelled', NULL, 0
FROM workorders_ticket t;

-- Running sign-for clocks of the dispatched orders (the dashboard's countdowns).
INSERT INTO sla_clock (
    id, ticket_id, kind, department_id, policy_id, started_at, target_seconds,
    extended_seconds, paused_seconds, paused_at, original_due_at, due_at, risk_at,
    stopped_at, outcome, outcome_original, voided, next_threshold_at, level
)
SELECT %(n)s + t.id, t.id, 'sign_for', t.department_id,
    CASE WHEN t.is_urgent THEN %(sign_urgent)s ELSE %(sign_general)s END,
    t.dispatched_at, CASE WHEN t.is_urgent THEN 1800 ELSE 7200 END, 0, 0, NULL,
    t.dispatched_at + CASE WHEN t.is_urgent THEN interval '30 minutes' ELSE interval '2 hours' END,
    t.dispatched_at + CASE WHEN t.is_urgent THEN interval '30 minutes' ELSE interval '2 hours' END,
    t.dispatched_at
        + CASE WHEN t.is_urgent THEN interval '24 minutes' ELSE interval '96 minutes' END,
    NULL, '', '', false, NULL, 0
FROM workorders_ticket t WHERE t.state = 'dispatched';

SELECT setval(pg_get_serial_sequence('workorders_ticket', 'id'), %(n)s);
SELECT setval(pg_get_serial_sequence('sla_clock', 'id'), 2 * %(n)s);
SET session_replication_role = DEFAULT;
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="bench_i6")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept by an earlier --keep run"
    )
    args = parser.parse_args()
    host = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")

    if not args.reuse:
        admin_db(host, f'DROP DATABASE IF EXISTS "{args.db}"')
        admin_db(host, f'CREATE DATABASE "{args.db}"')
    os.environ.update(
        {
            "DATABASE_URL": f"{host}/{args.db}",
            "DEBUG": "1",  # plain static storage; the admin renders without collectstatic
            "CELERY_BROKER_URL": "memory://",
            "CELERY_TASK_ALWAYS_EAGER": "1",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_db(host, f'DROP DATABASE IF EXISTS "{args.db}"')
            print(f"dropped {args.db}", file=sys.stderr)


def run(args) -> int:
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Department, User
    from sla.models import SlaPolicy
    from workorders.models import Category

    call_command("migrate", verbosity=0)
    if args.reuse:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        measure(
            args,
            User.objects.get(username="b_disp"),
            User.objects.get(username="b_lead"),
            load_s=None,
        )
        return 0
    network = Department.objects.get(code="network")
    lines = list(Department.objects.filter(kind="line").values_list("pk", flat=True))

    def user(name, role, dept):
        u = User.objects.create_user(name, password="bench-pw-1", department=dept, is_staff=True)
        u.groups.add(Group.objects.get(name=role))
        return u

    dispatcher = user("b_disp", "dispatcher", Department.objects.get(code="business"))
    lead = user("b_lead", "lead", network)
    handler = user("b_handler", "handler", network)
    frontline = user("b_front", "frontline", Department.objects.get(code="channel"))
    category = Category.objects.create(name="宽带故障", code="broadband_fault")
    now = timezone.now()

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            LOAD_SQL,
            {
                "n": args.rows,
                "now": now,
                "reporter": frontline.pk,
                "category": category.pk,
                "depts": lines,
                "ndepts": len(lines),
                "handler": handler.pk,
                "policy_general": SlaPolicy.objects.get(kind="promise", urgency="general").pk,
                "policy_urgent": SlaPolicy.objects.get(kind="promise", urgency="urgent").pk,
                "sign_general": SlaPolicy.objects.get(kind="sign_for", urgency="general").pk,
                "sign_urgent": SlaPolicy.objects.get(kind="sign_for", urgency="urgent").pk,
            },
        )
        cur.execute("ANALYZE")
    load_s = time.perf_counter() - t0
    print(f"loaded {args.rows} orders + clocks in {load_s:.1f}s", file=sys.stderr)
    measure(args, dispatcher, lead, load_s)
    return 0


def measure(args, dispatcher, lead, load_s) -> None:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    now = timezone.now()

    changelist = reverse("admin:workorders_ticket_changelist")
    dashboard = reverse("admin:workorders_ticket_dashboard")
    pages = [
        ("dispatcher", "changelist, default order (priority)", changelist),
        ("dispatcher", "changelist, page 50", changelist + "?p=50"),
        ("dispatcher", "filter: state = dispatched", changelist + "?state__exact=dispatched"),
        ("dispatcher", "filter: SLA breached", changelist + "?sla=breached"),
        ("dispatcher", "filter: SLA at risk", changelist + "?sla=at_risk"),
        ("dispatcher", "filter: escalation level 2", changelist + "?escalation=2"),
        ("dispatcher", "search: phone last four", changelist + "?q=4321"),
        ("dispatcher", "search: full phone", changelist + "?q=13800654321"),
        (
            "dispatcher",
            "date hierarchy: one month",
            changelist + f"?reported_at__year={now.year}&reported_at__month={now.month}",
        ),
        ("lead", "changelist, default (own line)", changelist),
        (
            "lead",
            "preset: my department's unclaimed",
            changelist + "?scope=my_department&state__exact=dispatched",
        ),
        ("lead", "dashboard", dashboard),
        ("dispatcher", "dashboard (all departments)", dashboard),
    ]
    clients = {}
    for role, u in (("dispatcher", dispatcher), ("lead", lead)):
        c = Client()
        c.force_login(u)
        clients[role] = c

    rows = []
    for role, label, url in pages:
        client = clients[role]
        client.get(url)  # warm caches (templates, plans)
        times = []
        for _ in range(args.runs):
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        slowest_sql = max(float(q["time"]) for q in ctx.captured_queries) * 1000
        rows.append((role, label, statistics.median(times), len(ctx.captured_queries), slowest_sql))
        print(
            f"{role:10} {label:40} {statistics.median(times):8.1f} ms "
            f"{len(ctx.captured_queries):3} queries",
            file=sys.stderr,
        )

    from workorders.models import Ticket

    n = Ticket.objects.count()
    loaded = f", data loaded in {load_s:.0f}s" if load_s is not None else ""
    print(
        f"\n{n:,} orders (+{n:,} promise clocks), PostgreSQL "
        f"{connection.pg_version // 10000}{loaded}; median of "
        f"{args.runs} renders through Django's test client, 50 rows a page.\n"
    )
    print("| user | page | median render (ms) | queries | slowest query (ms) |")
    print("|---|---|---:|---:|---:|")
    for role, label, ms, nq, slow in rows:
        print(f"| {role} | {label} | {ms:.0f} | {nq} | {slow:.0f} |")


if __name__ == "__main__":
    raise SystemExit(main())
