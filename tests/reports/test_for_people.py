"""The report as people read it: this month by default with last month beside it, a
scorecard of departments only, late times in minutes or hours, XLSX files laid out for
reading (column widths, frozen header, autofilter on every sheet) and the transition log's
data column in words."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.utils import translation

from reports import kpis
from reports.services import report_workbook
from reports.views import late_text
from tests.factories import report
from workorders.models import AuditEntry

from .conftest import T0, h

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
WEEK = {"period": "custom", "start": "2026-11-02", "end": "2026-11-08"}


@pytest.mark.parametrize(
    "now, first, last, prev_first, prev_last",
    [
        # 2026-11-30 23:30 in Shanghai is still November there (15:30 UTC).
        (
            datetime(2026, 11, 30, 23, 30, tzinfo=TZ),
            "2026-11-01",
            "2026-11-30",
            "2026-10-01",
            "2026-10-31",
        ),
        # 2026-12-01 00:10 in Shanghai is December there (still November in UTC).
        (
            datetime(2026, 12, 1, 0, 10, tzinfo=TZ),
            "2026-12-01",
            "2026-12-31",
            "2026-11-01",
            "2026-11-30",
        ),
    ],
)
def test_report_defaults_to_this_month_beside_the_previous_month(
    cast, client, now, first, last, prev_first, prev_last
):
    client.force_login(cast.auditor)
    with time_machine.travel(now, tick=False):
        resp = client.get("/reports/")
    assert resp.status_code == 200
    period, previous = resp.context["period"], resp.context["previous_period"]
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == (first, last)
    assert (previous.first_day.isoformat(), previous.last_day.isoformat()) == (
        prev_first,
        prev_last,
    )
    html = resp.content.decode()
    assert f"{first} ~ {last}" in html and f"{prev_first} ~ {prev_last}" in html
    assert resp.context["form"]["period"].value() == "month"


def test_month_default_counts_the_whole_month(world, cast, client):
    """With the week's orders in November, the default (this month) counts them all — the
    old default (today) counted one day's orders."""
    client.force_login(cast.auditor)
    with time_machine.travel(h(24 * 20), tick=False):  # 2026-11-22
        resp = client.get("/reports/")
    assert resp.context["current"].counts["received"] == 9  # o1..o9


def test_scorecard_lists_departments_only(world, cast, client):
    client.force_login(cast.auditor)
    resp = client.get("/reports/", WEEK)
    rows = [s["row"] for s in resp.context["scorecard"]]
    # o8 was cancelled before any dispatch: its count exists, but under no department.
    with translation.override("zh-hans"):
        board = kpis.report_figures(
            user=cast.auditor, period=resp.context["period"], scope=kpis.Scope()
        ).scorecard
    assert any(r.key is None for r in board)
    assert all(r.key is not None for r in rows)
    assert [s["rank"] for s in resp.context["scorecard"]] == list(range(1, len(rows) + 1))
    html = resp.content.decode()
    board_html = html[html.index("部门考核排名") : html.index("趋势")]
    assert "未派单" not in board_html
    assert "网络保障" in board_html


def test_scorecard_leaves_out_departments_without_figures(cast):
    zero = {name: 0 for name in kpis.SOURCE_OF_COUNT}
    empty = kpis.KpiRow(key=cast.business.pk, label="业务管理", counts=dict(zero))
    busy = kpis.KpiRow(key=cast.network.pk, label="网络保障", counts={**zero, "received": 2})
    closed_only = kpis.KpiRow(key=99, label="X", counts={**zero, "closed": 1})
    nobody = kpis.KpiRow(key=None, label="未派单", counts={**zero, "received": 3})
    assert kpis.scorecard_departments([empty, busy, nobody, closed_only]) == [busy, closed_only]


@pytest.mark.parametrize(
    "seconds, zh, en",
    [
        (35 * 60 + 20, "35 分钟", "35 min"),
        (59 * 60 + 59, "59 分钟", "59 min"),
        (60 * 60, "1.0 小时", "1.0 h"),
        (2.5 * 3600, "2.5 小时", "2.5 h"),
    ],
)
def test_late_time_in_minutes_under_an_hour_hours_otherwise(seconds, zh, en):
    with translation.override("zh-hans"):
        assert late_text(seconds) == zh
    with translation.override("en"):
        assert late_text(seconds) == en


def test_breached_list_shows_minutes_for_an_order_minutes_late(cast, client):
    t = report(cast, now=T0, urgency="urgent", urgency_reason="断网")
    due = t.promise_clock.due_at
    client.force_login(cast.auditor)
    with time_machine.travel(due + timedelta(minutes=35, seconds=5), tick=False):
        resp = client.get("/reports/")
        (row,) = [b for b in resp.context["breached"] if b["t"].pk == t.pk]
        assert row["overdue"] == "35 分钟"
        assert "35 分钟" in resp.content.decode()
        resp = client.get("/reports/orders/", {"backlog": "1", "breached": "1"})
        assert "35 分钟" in resp.content.decode()
        assert "0.0" not in resp.content.decode().split("<tbody>")[1]


def _xlsx(client, user, kind, params=WEEK, lang="zh-hans"):
    client.force_login(user)
    resp = client.get(f"/reports/export/{kind}.xlsx", params, HTTP_ACCEPT_LANGUAGE=lang)
    assert resp.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content)))


def assert_laid_out(ws):
    """Frozen header row, an autofilter over the header and every row, explicit widths."""
    assert ws.freeze_panes == "A2", ws.title
    last_col = openpyxl.utils.get_column_letter(ws.max_column)
    assert ws.auto_filter.ref == f"A1:{last_col}{ws.max_row}", ws.title
    for i in range(1, ws.max_column + 1):
        dim = ws.column_dimensions[openpyxl.utils.get_column_letter(i)]
        assert dim.customWidth and dim.width >= 8, (ws.title, i)


def test_ticket_xlsx_has_widths_frozen_header_and_filter(world, cast, client):
    ws = _xlsx(client, cast.auditor, "tickets").worksheets[0]
    assert ws.max_row == 9  # header + 8 orders
    assert_laid_out(ws)
    header = [c.value for c in ws[1]]
    width = {
        h: ws.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width
        for i, h in enumerate(header)
    }
    # A long description column is wider than the two-character 星级 one.
    assert width["问题描述"] > width["星级"]
    assert width["报单时间"] >= 19  # a whole "2026-11-02 09:00:00"


def test_scheduled_workbook_lays_out_every_sheet(world, cast):
    from reports.exports import TZ as _tz  # noqa: F401 - the export's zone is Shanghai

    with translation.override("zh-hans"):
        path, _n = report_workbook(
            period=kpis.period_for(
                "custom", now=h(0), start=T0.date(), end=T0.date() + timedelta(days=6)
            ),
            department=None,
            now=h(24 * 7),
            full_phone=False,
        )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["指标汇总", "部门排名", "工单"]
    for ws in wb.worksheets:
        assert_laid_out(ws)
    departments = [r[0] for r in wb["部门排名"].iter_rows(min_row=2, values_only=True)]
    assert departments and "未派单" not in departments


def test_transition_xlsx_data_column_in_words(world, cast, client):
    entries = {
        e.transition: e
        for e in AuditEntry.objects.filter(at__gte=h(0), at__lt=h(24 * 7)).order_by("pk")
    }
    assert {"dispatch", "suspend", "close", "rule_return"} <= set(entries)
    # (PostgreSQL's jsonb keeps keys in its own order: each part is looked for alone.)
    for lang, dept, close in (
        ("zh-hans", "部门: 网络保障", ("回访结果: 回访成功", "已解决: 是", "满意度: 满意")),
        ("en", "Department: 网络保障", ("Visit outcome: Reached", "Resolved: Yes")),
    ):
        ws = _xlsx(client, cast.auditor, "transitions", lang=lang).worksheets[0]
        assert_laid_out(ws)
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        data = [r[8] for r in rows if r[8]]
        assert data and not [d for d in data if "{" in d or '"' in d], data
        parts = [d.split("; ") for d in data]
        assert any(dept in p for p in parts), data
        assert any(all(c in p for c in close) for p in parts), data
        suspend = [d for d in data if "2026-11-0" in d]
        assert suspend, data  # the suspension's expected resume, a local time


def test_transition_csv_data_column_stays_json(world, cast, client):
    client.force_login(cast.auditor)
    resp = client.get("/reports/export/transitions.csv", WEEK)
    body = b"".join(resp.streaming_content).decode("utf-8-sig")
    assert '""department"": ""网络保障""' in body


def test_without_a_period_every_entry_point_counts_this_month(world, cast, client):
    """The page with only a filter, the KPI API and the order export all default to this month
    (they used to default to today while the bare page showed the month)."""
    from rest_framework.test import APIClient

    client.force_login(cast.auditor)
    api = APIClient()
    api.force_authenticate(cast.auditor)
    with time_machine.travel(h(24 * 20), tick=False):  # 2026-11-22
        page = client.get("/reports/", {"urgency": ""})
        body = api.get("/api/v1/reports/kpis/").json()
        csv = client.get("/reports/export/tickets.csv")
    assert page.context["current"].counts["received"] == 9
    assert (body["period"]["kind"], body["period"]["start"], body["period"]["end"]) == (
        "month",
        "2026-11-01",
        "2026-11-30",
    )
    assert body["total"]["counts"]["received"] == 9
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + 9  # header and o1..o9
