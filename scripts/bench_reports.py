"""Benchmark: exports and the KPI report over 1,000,000 orders on PostgreSQL (issue 7).

    /work/main/.venv/bin/python scripts/bench_reports.py [--rows 1000000] [--keep] [--docs]

Creates the database bench_i7 (dropped at the end unless --keep), migrates it, loads N orders
with their promise/dispatch/sign-for clocks and two audit rows each with INSERT … SELECT
generate_series, then measures, each in a fresh subprocess (so ru_maxrss is that run's peak):

- CSV and XLSX export of orders: rows/s and peak RSS at 100,000 rows and at all rows;
- the KPI figures (summary, department scorecard, daily trend) and the whole report page
  (from live SQL, or from the daily roll-up once `manage.py kpi_rebuild` has built it).

Not a test: numbers depend on the machine. --docs appends the results to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "bench_i7")
URL = f"{PG}/{DB}"
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 8, 1, tzinfo=TZ)
DAYS = 100  # orders spread evenly over 100 days: 1M rows → 10,000 a day


def sh_psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(
        ["psql", f"{PG}/{db}", "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, cwd=ROOT
    )


def child_env() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=URL,
        SECRET_KEY="bench-only",
        DEBUG="",
        ALLOWED_HOSTS="testserver",
        CELERY_TASK_ALWAYS_EAGER="1",
        SECURE_SSL_REDIRECT="0",  # the test client speaks plain HTTP
    )
    return env


def setup_db(n: int) -> None:
    sh_psql(f"DROP DATABASE IF EXISTS {DB}")
    sh_psql(f"CREATE DATABASE {DB}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=child_env()
    )
    subprocess.run(
        [sys.executable, __file__, "--child", "seed", str(n)], check=True, env=child_env()
    )


SEED_SQL = """
WITH t AS (
  SELECT g,
         %(start)s::timestamptz + (g * interval '1 second' * %(span)s / %(n)s) AS rep,
         g %% 10 AS k
  FROM generate_series(1, %(n)s) g
)
INSERT INTO workorders_ticket (
  id, number, channel, reported_at, customer_name, customer_phone, customer_address,
  customer_region, star_level, is_elderly, claimed_escalation, urgency, urgency_reason,
  is_urgent, is_priority, title, description, state, version, dispatched_at, claimed_at,
  return_count, return_rejected_count, last_return_reason, last_return_ruling,
  redispatch_count, suspension_count, extension_count, replied_at, reply_result, reply_cause,
  reply_resolved, visit_at, visit_outcome, visit_resolved, visit_satisfaction, visit_note,
  closed_at, redo_count, cancel_reason, is_repeat, chase_count, supervise_count,
  escalation_level, promise_due_at, created_at, updated_at, category_id, claimed_by_id,
  department_id, dispatched_by_id, handler_id, promise_clock_id, reporter_id,
  reporter_department_id, replied_by_id, visit_by_id
)
SELECT g,
  'GD' || to_char(rep AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
    || lpad((g %% 1000000)::text, 6, '0'),
  (ARRAY['field','counter','hotline','online'])[1 + g %% 4],
  rep, '客户' || g, '139' || lpad(g::text, 8, '0'), '',
  (ARRAY['杭州','宁波','温州','绍兴','=HYPERLINK("x")'])[1 + g %% 5],
  1 + g %% 5, g %% 9 = 0, g %% 31 = 0, 'general', '', false, g %% 9 = 0, '',
  '宽带经常掉线，晚上无法上网，已重启光猫无效，客户要求尽快上门处理 #' || g,
  CASE WHEN k = 0 THEN 'accepted' WHEN k = 1 THEN 'dispatched' ELSE 'closed' END, 3,
  rep + CASE WHEN g %% 20 = 0 THEN interval '3 hours' ELSE interval '30 minutes' END,
  CASE WHEN k = 1 THEN NULL ELSE rep + interval '90 minutes' END,
  (g %% 40 = 0)::int, 0, CASE WHEN g %% 40 = 0 THEN '非本部门' ELSE '' END, '',
  0, (g %% 25 = 0)::int, (g %% 33 = 0)::int,
  CASE WHEN k >= 2 THEN rep + interval '1 hour' * (2 + g %% 60) END,
  CASE WHEN k >= 2 THEN '已更换光猫，恢复正常' ELSE '' END,
  CASE WHEN k >= 2 THEN 'network' ELSE '' END,
  CASE WHEN k >= 2 THEN true END,
  CASE WHEN k >= 2 THEN rep + interval '1 hour' * (4 + g %% 60) END,
  CASE WHEN k < 2 THEN '' WHEN g %% 15 = 0 THEN 'unreachable' ELSE 'success' END,
  CASE WHEN k >= 2 AND g %% 15 <> 0 THEN g %% 7 <> 0 END,
  CASE WHEN k < 2 OR g %% 15 = 0 THEN ''
       WHEN g %% 10 < 6 THEN 'satisfied' WHEN g %% 10 < 9 THEN 'basically'
       ELSE 'unsatisfied' END,
  '',
  CASE WHEN k >= 2 THEN rep + interval '1 hour' * (4 + g %% 60) END,
  (g %% 50 = 0)::int, '', g %% 45 = 0, g %% 3, (g %% 7 = 0 AND k < 2)::int, 0,
  rep + interval '48 hours', rep, rep,
  %(cat0)s + g %% %(ncat)s, %(lead)s,
  %(dept0)s + g %% %(ndept)s, %(disp)s, %(handler)s, g, %(front)s,
  %(front_dept)s, %(handler)s, %(disp)s
FROM t;

INSERT INTO sla_clock (id, kind, started_at, target_seconds, extended_seconds, paused_seconds,
  original_due_at, due_at, risk_at, stopped_at, outcome, outcome_original, voided, level,
  department_id, ticket_id, policy_id)
SELECT id, 'promise', reported_at, 172800,
  CASE WHEN extension_count > 0 THEN 86400 ELSE 0 END,
  CASE WHEN suspension_count > 0 THEN 7200 ELSE 0 END,
  reported_at + interval '48 hours',
  reported_at + interval '48 hours' + CASE WHEN extension_count > 0 THEN interval '24 hours'
    ELSE interval '0' END,
  reported_at + interval '38.4 hours', replied_at,
  CASE WHEN replied_at IS NULL THEN ''
       WHEN replied_at <= reported_at + interval '48 hours' + CASE WHEN extension_count > 0
         THEN interval '24 hours' ELSE interval '0' END THEN 'met' ELSE 'missed' END,
  CASE WHEN replied_at IS NULL THEN ''
       WHEN replied_at <= reported_at + interval '48 hours' THEN 'met' ELSE 'missed' END,
  false, 0, NULL, id, %(p_promise)s
FROM workorders_ticket;

INSERT INTO sla_clock (id, kind, started_at, target_seconds, extended_seconds, paused_seconds,
  original_due_at, due_at, risk_at, stopped_at, outcome, outcome_original, voided, level,
  department_id, ticket_id, policy_id)
SELECT %(n)s + id, 'dispatch', reported_at, 7200, 0, 0, reported_at + interval '2 hours',
  reported_at + interval '2 hours', reported_at + interval '96 minutes', dispatched_at,
  CASE WHEN dispatched_at <= reported_at + interval '2 hours' THEN 'met' ELSE 'missed' END,
  CASE WHEN dispatched_at <= reported_at + interval '2 hours' THEN 'met' ELSE 'missed' END,
  false, 0, NULL, id, %(p_dispatch)s
FROM workorders_ticket
UNION ALL
SELECT 2 * %(n)s + id, 'sign_for', dispatched_at, 7200, 0, 0, dispatched_at + interval '2 hours',
  dispatched_at + interval '2 hours', dispatched_at + interval '96 minutes', claimed_at,
  CASE WHEN claimed_at IS NULL THEN '' ELSE 'met' END,
  CASE WHEN claimed_at IS NULL THEN '' ELSE 'met' END,
  false, 0, department_id, id, %(p_sign)s
FROM workorders_ticket;

INSERT INTO workorders_auditentry (transition, source, target, actor_role, at, comment, data,
  actor_id, ticket_id)
SELECT 'dispatch', 'reported', 'dispatched', 'dispatcher', dispatched_at, '', '{}'::jsonb,
  dispatched_by_id, id FROM workorders_ticket
UNION ALL
SELECT 'close', 'replied', 'closed', 'dispatcher', closed_at, '回访满意',
  '{"outcome": "success"}'::jsonb, visit_by_id, id FROM workorders_ticket
WHERE closed_at IS NOT NULL
UNION ALL
SELECT 'request_return', 'dispatched', 'return_requested', 'lead',
  dispatched_at + interval '10 minutes', '非本部门', '{}'::jsonb, claimed_by_id, id
FROM workorders_ticket WHERE return_count > 0;

SELECT setval(pg_get_serial_sequence('workorders_ticket', 'id'), %(n)s);
SELECT setval(pg_get_serial_sequence('sla_clock', 'id'), 3 * %(n)s);
"""


def seed(n: int) -> None:
    from django.db import connection

    from accounts.models import Department
    from sla.models import SlaPolicy
    from tests.factories import CategoryFactory, user_with

    net = Department.objects.get(code="network")
    depts = list(Department.objects.filter(kind="line").order_by("pk"))
    auditor = user_with("auditor", username="bench_auditor")
    front = user_with("frontline", username="bench_front", department=depts[2])
    disp = user_with("dispatcher", username="bench_disp", department=depts[1])
    lead = user_with("lead", username="bench_lead", department=net)
    handler = user_with("handler", username="bench_handler", department=net)
    cats = [
        CategoryFactory(name=name, code=f"bench{i}")
        for i, name in enumerate(["信号覆盖", "宽带故障", "计费争议", "服务态度", "携号转网"])
    ]
    pol = {(p.kind, p.urgency): p.pk for p in SlaPolicy.objects.all()}
    assert [c.pk for c in cats] == list(range(cats[0].pk, cats[0].pk + len(cats)))
    ids = [d.pk for d in depts]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    params = {
        "start": START.isoformat(),
        "span": DAYS * 86400,
        "n": n,
        "cat0": cats[0].pk,
        "ncat": len(cats),
        "dept0": ids[0],
        "ndept": len(ids),
        "lead": lead.pk,
        "disp": disp.pk,
        "handler": handler.pk,
        "front": front.pk,
        "front_dept": front.department_id,
        "p_promise": pol[("promise", "general")],
        "p_dispatch": pol[("dispatch", "general")],
        "p_sign": pol[("sign_for", "general")],
    }
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        # Columns added to the models since this seed was written (NOT NULL, no database
        # default) get a neutral default for the load only.
        filled = _temporary_defaults(cur)
        cur.execute(SEED_SQL, params)
        for table, column in filled:
            cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"seeded {n} orders in {time.perf_counter() - t0:.1f}s (auditor id {auditor.pk})")


NEUTRAL = {
    "text": "''",
    "character varying": "''",
    "boolean": "false",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "double precision": "0",
    "numeric": "0",
    "jsonb": "'{}'::jsonb",
}


def _temporary_defaults(cur) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_name IN ('workorders_ticket', 'sla_clock', 'workorders_auditentry')
          AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'"""
    )
    filled = []
    for table, column, kind in cur.fetchall():
        if kind in NEUTRAL:  # an explicit value in the INSERT still wins
            cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT {NEUTRAL[kind]}')
            filled.append((table, column))
    return filled


def _filters(days: int | None):
    from reports.filters import ReportFilters
    from reports.kpis import Period, Scope

    end = START + timedelta(days=days or DAYS + 1)
    period = Period(START, end, "custom")
    return ReportFilters(period=period, scope=Scope(), group_by=None, count=None, params={})


def child_export(fmt: str, rows: int) -> dict:
    from accounts.models import User
    from reports import services
    from reports.models import ExportLog

    user = User.objects.get(username="bench_auditor")
    days = None if rows >= n_total() else max(1, round(rows / (n_total() / DAYS)))
    filters = _filters(days)
    t0 = time.perf_counter()
    resp = services.export_start(user=user, filters=filters, kind="tickets", fmt=fmt)
    size = 0
    with open(os.devnull, "wb") as out:
        for chunk in resp.streaming_content:
            size += len(chunk)
            out.write(chunk)
    elapsed = time.perf_counter() - t0
    log = ExportLog.objects.order_by("-pk").first()
    return {
        "fmt": fmt,
        "rows": log.rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(log.rows / elapsed),
        "bytes": size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def n_total() -> int:
    from workorders.models import Ticket

    return Ticket.objects.count()


def child_kpi(days: int) -> dict:
    from django.test import Client

    from accounts.models import User
    from reports import kpis, rollup

    user = User.objects.get(username="bench_auditor")
    f = _filters(days)
    # Live SQL until `manage.py kpi_rebuild` has built the daily roll-up, the roll-up after.
    out = {"days": days, "rollup": rollup.serves(user=user, period=f.period, scope=f.scope)}
    for label, fn in (
        ("summary", lambda: kpis.kpi_summary(user=user, period=f.period)),
        ("scorecard", lambda: kpis.department_scorecard(user=user, period=f.period)),
        ("trend_by_day", lambda: kpis.kpi_rows(user=user, period=f.period, group_by="day")),
        ("backlog", lambda: kpis.backlog(user=user)),
        ("page_figures", lambda: kpis.report_figures(user=user, period=f.period)),
    ):
        best = None
        for _ in range(2):
            t0 = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        out[label] = round(best, 3)
        if label == "summary":
            out["received"] = result.counts["received"]
    client = Client()
    client.force_login(user)
    end = f.period.last_day.isoformat()
    url = f"/reports/?period=custom&start={START.date().isoformat()}&end={end}"
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        resp = client.get(url)
        times.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.status_code
    out["page_cold"], out["page_warm"] = round(times[0], 3), round(times[1], 3)
    return out


def run_child(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep bench_i7 afterwards")
    ap.add_argument("--reuse", action="store_true", help="reuse a seeded bench_i7")
    ap.add_argument("--docs", action="store_true", help="append results to docs/benchmarks.md")
    ap.add_argument("--xlsx-full", action="store_true", help="also XLSX at all rows")
    ap.add_argument("--seed-only", action="store_true", help="only create and load bench_i7")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        mode, *rest = args.child
        if mode == "seed":
            seed(int(rest[0]))
            return
        if mode == "export":
            print(json.dumps(child_export(rest[0], int(rest[1]))))
        elif mode == "kpi":
            print(json.dumps(child_kpi(int(rest[0]))))
        return
    if args.seed_only:
        setup_db(args.rows)
        return
    try:
        if not args.reuse:
            setup_db(args.rows)
        n = args.rows
        results = {"rows": n, "csv": [], "xlsx": [], "kpi": []}
        for rows in (100_000, n):
            r = run_child("export", "csv", str(rows))
            print("csv", r, flush=True)
            results["csv"].append(r)
        xlsx_sizes = (100_000, 300_000) + ((n,) if args.xlsx_full else ())
        for rows in xlsx_sizes:
            r = run_child("export", "xlsx", str(rows))
            print("xlsx", r, flush=True)
            results["xlsx"].append(r)
        for days in (31, DAYS + 1):
            r = run_child("kpi", str(days))
            print("kpi", r, flush=True)
            results["kpi"].append(r)
        print(json.dumps(results))
        if args.docs:
            write_docs(results)
    finally:
        if not args.keep:
            sh_psql(f"DROP DATABASE IF EXISTS {DB}")


def write_docs(res: dict) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    lines = [
        "",
        "## Reports and exports (issue 7)",
        "",
        f"`scripts/bench_reports.py` on PostgreSQL 15, {res['rows']:,} orders (+3 clocks and "
        "~2 audit rows each), 2 shared cores; "
        f"measured {datetime.now(TZ):%Y-%m-%d}. Each run in a fresh process; peak RSS is its "
        "ru_maxrss (Django and drivers included).",
        "",
        "| Export | Rows | Seconds | Rows/s | Peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("csv", "xlsx"):
        for r in res[kind]:
            lines.append(
                f"| {kind.upper()} | {r['rows']:,} | {r['seconds']} | {r['rows_per_s']:,} "
                f"| {r['peak_rss_mb']} |"
            )
    lines += [
        "",
        "| KPI over | Orders in period | Summary s | Scorecard s | Daily trend s | Backlog s "
        "| Page (cold/warm) s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["kpi"]:
        lines.append(
            f"| {r['days']} days | {r['received']:,} | {r['summary']} | {r['scorecard']} "
            f"| {r['trend_by_day']} | {r['backlog']} | {r['page_cold']} / {r['page_warm']} |"
        )
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
