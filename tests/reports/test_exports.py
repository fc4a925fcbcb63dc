"""Exports parsed back (csv, openpyxl) and compared field by field with the orders; masking,
formula neutralisation, who may export what, and exactly one export log row per export."""

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from reports.models import ExportLog
from tests.conftest import requires_postgres
from tests.factories import report
from workorders.models import AuditEntry
from workorders.permissions import mask_phone

from .conftest import T0, h

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
WEEK = {"period": "custom", "start": "2026-11-02", "end": "2026-11-08"}
URL = "/reports/export/{kind}.{fmt}"


def local(dt):
    return None if dt is None else dt.astimezone(TZ).replace(tzinfo=None, microsecond=0)


def yn(v):
    return "是" if v else "否"


def expected(t, *, full_phone: bool, now) -> dict:
    """The export row of an order, built from the model objects (not from the exporter)."""
    c = t.promise_clock
    net = overdue_h = None
    overdue = False
    if c.stopped_at and not c.voided:
        net = round(((c.stopped_at - c.started_at).total_seconds() - c.paused_seconds) / 3600, 2)
        if c.stopped_at > c.due_at:
            overdue, overdue_h = True, round((c.stopped_at - c.due_at).total_seconds() / 3600, 1)
    elif not c.voided and (c.paused_at or now) > c.due_at:
        overdue = True
        overdue_h = round(((c.paused_at or now) - c.due_at).total_seconds() / 3600, 1)

    def name(u):
        if u is None:
            return ""
        full = f"{u.last_name}{u.first_name}".strip()
        return f"{full}({u.username})" if full else u.username

    return {
        "工单号": t.number,
        "受理渠道": t.get_channel_display(),
        "状态": t.get_state_display(),
        "吹哨人": name(t.reporter),
        "吹哨人部门": t.reporter_department.name if t.reporter_department else "",
        "报单时间": local(t.reported_at),
        "客户姓名": t.customer_name,
        "客户电话": t.customer_phone if full_phone else mask_phone(t.customer_phone),
        "归属地区": t.customer_region,
        "星级": t.star_level,
        "老年客户": yn(t.is_elderly),
        "声称升级": yn(t.claimed_escalation),
        "问题分类": str(t.category),
        "紧急程度": t.get_urgency_display(),
        "紧急程度调整原因": t.urgency_reason,
        "问题描述": t.description,
        "派单时间": local(t.dispatched_at),
        "派单人": name(t.dispatched_by),
        "责任部门": t.department.name if t.department else "",
        "协办部门": "、".join(d.name for d in t.co_departments.all()),
        "签收时间": local(t.claimed_at),
        "签收人": name(t.claimed_by),
        "处理人": name(t.handler),
        "退单次数": t.return_count,
        "最近退单原因": t.last_return_reason,
        "最近退单裁定": t.get_last_return_ruling_display() if t.last_return_ruling else "",
        "转派次数": t.redispatch_count,
        "延期次数": t.extension_count,
        "原始时限": local(c.original_due_at),
        "有效时限": local(c.due_at),
        "挂起次数": t.suspension_count,
        "挂起累计(小时)": round(c.paused_seconds / 3600, 2),
        "回复时间": local(t.replied_at),
        "处理结果": t.reply_result,
        "原因分类": t.get_reply_cause_display() if t.reply_cause else "",
        "回访时间": local(t.visit_at),
        "回访结果": t.get_visit_outcome_display() if t.visit_outcome else "",
        "客户确认已解决": "" if t.visit_resolved is None else yn(t.visit_resolved),
        "满意度": t.get_visit_satisfaction_display() if t.visit_satisfaction else "",
        "回访渠道": t.get_visit_channel_display() if t.visit_channel else "",
        "办结时间": local(t.closed_at),
        "净处理时长(小时)": net,
        "是否超时": yn(overdue),
        "超时(小时)": overdue_h,
        "催办次数": t.chase_count,
        "督办次数": t.supervise_count,
        "重办次数": t.redo_count,
        "重复投诉": yn(t.is_repeat),
        "前次工单": t.repeat_of.number if t.repeat_of else "",
    }


def as_csv_text(v):
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, float):  # up to two decimals, trailing zeros dropped
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def get_csv(client, user, kind="tickets", params=WEEK):
    client.force_login(user)
    resp = client.get(URL.format(kind=kind, fmt="csv"), params)
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"].startswith("text/csv")
    body = b"".join(resp.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def get_xlsx(client, user, kind="tickets", params=WEEK):
    client.force_login(user)
    resp = client.get(URL.format(kind=kind, fmt="xlsx"), params)
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def test_ticket_csv_matches_orders_field_by_field(world, cast, client):
    now = h(24 * 7 + 10)
    import time_machine

    with time_machine.travel(now, tick=False):
        rows = get_csv(client, cast.auditor)
    header, data = rows[0], rows[1:]
    assert header[:3] == ["工单号", "受理渠道", "状态"] and len(header) == 49
    by_number = {r[0]: dict(zip(header, r, strict=True)) for r in data}
    week1 = [world[f"o{i}"] for i in range(1, 9)]
    assert set(by_number) == {t.number for t in week1}
    for t in week1:
        want = {k: as_csv_text(v) for k, v in expected(t, full_phone=False, now=now).items()}
        assert by_number[t.number] == want, t.number
    o3 = by_number[world["o3"].number]
    assert (o3["原始时限"], o3["有效时限"]) == ("2026-11-04 09:00:00", "2026-11-05 09:00:00")
    assert o3["客户电话"] == "139****0003"
    assert by_number[world["o4"].number]["挂起累计(小时)"] == "20"
    assert by_number[world["o7"].number]["前次工单"] == world["o1"].number


def test_ticket_xlsx_matches_orders_field_by_field(world, cast, client):
    now = h(24 * 7 + 10)
    import time_machine

    with time_machine.travel(now, tick=False):
        rows = get_xlsx(client, cast.auditor)
    header, data = rows[0], rows[1:]
    by_number = {r[0]: dict(zip(header, r, strict=True)) for r in data}
    assert len(by_number) == 8
    for i in range(1, 9):
        t = world[f"o{i}"]
        want = expected(t, full_phone=False, now=now)
        got = {
            k: ("" if v is None and want[k] == "" else v) for k, v in by_number[t.number].items()
        }
        assert got == want, t.number


def test_phone_in_full_for_roles_that_call_the_customer(world, cast, client):
    rows = get_csv(client, cast.lead)
    header = rows[0]
    phones = {r[0]: r[header.index("客户电话")] for r in rows[1:]}
    assert phones[world["o1"].number] == "13900000001"


def test_formula_injection_neutralised(cast, client):
    report(
        cast,
        now=T0,
        phone="13900000077",
        customer_name="=cmd|' /C calc'!A0",
        customer_region="@SUM(1+1)",
        description='+HYPERLINK("http://evil","x")',
        title="",
    )
    rows = get_csv(client, cast.auditor)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["客户姓名"] == "'=cmd|' /C calc'!A0"
    assert row["归属地区"] == "'@SUM(1+1)"
    assert row["问题描述"] == '\'+HYPERLINK("http://evil","x")'
    xrows = get_xlsx(client, cast.auditor)
    xrow = dict(zip(xrows[0], xrows[1], strict=True))
    assert xrow["客户姓名"] == "'=cmd|' /C calc'!A0"
    assert xrow["问题描述"].startswith("'+")


@pytest.mark.parametrize("role", ["frontline", "handler", "dispatcher"])
def test_roles_without_export_permission_are_refused(world, cast, client, role):
    client.force_login(cast.by_role(role))
    for kind in ("tickets", "transitions"):
        for fmt in ("csv", "xlsx"):
            assert client.get(URL.format(kind=kind, fmt=fmt), WEEK).status_code == 403
    assert ExportLog.objects.count() == 0


def test_lead_export_is_scoped_to_own_subtree(world, cast, client):
    numbers = {r[0] for r in get_csv(client, cast.other_lead)[1:]}
    assert numbers == {world["o2"].number}
    numbers = {r[0] for r in get_csv(client, cast.lead)[1:]}
    assert numbers == {world[f"o{i}"].number for i in (1, 3, 4, 5, 6, 7)}


def test_export_of_a_drilled_down_count(world, cast, client):
    rows = get_csv(client, cast.auditor, params={**WEEK, "count": "met_original"})
    assert {r[0] for r in rows[1:]} == {world[f"o{i}"].number for i in (1, 4, 5, 6)}


def test_transition_log_csv_and_xlsx(world, cast, client):
    rows = get_csv(client, cast.auditor, kind="transitions")
    header, data = rows[0], rows[1:]
    assert header == [
        "工单号",
        "动作",
        "原状态",
        "新状态",
        "操作人",
        "角色",
        "时间",
        "说明",
        "数据",
    ]
    entries = list(
        AuditEntry.objects.filter(at__gte=h(0), at__lt=h(24 * 7))
        .select_related("ticket", "actor")
        .order_by("pk")
    )
    assert len(data) == len(entries)
    for row, e in zip(data, entries, strict=True):
        assert row[0] == e.ticket.number
        assert row[2] == e.get_source_display() and row[3] == e.get_target_display()
        assert row[4] == (e.actor.username if e.actor else "系统")
        assert row[6] == local(e.at).isoformat(sep=" ")
        assert row[7] == e.comment
        assert row[8] == (json.dumps(e.data, ensure_ascii=False) if e.data else "")
    ruling = next(r for r, e in zip(data, entries, strict=True) if e.transition == "rule_return")
    assert ruling[1] == "退单裁定" and ruling[5] == "调度/回访"
    xrows = get_xlsx(client, cast.auditor, kind="transitions")
    assert [r[0] for r in xrows[1:]] == [r[0] for r in data]


def test_export_log_written_exactly_once_per_export(world, cast, client):
    get_csv(client, cast.auditor)
    assert ExportLog.objects.count() == 1
    log = ExportLog.objects.get()
    assert (log.user, log.kind, log.format, log.rows, log.completed) == (
        cast.auditor,
        "tickets",
        "csv",
        8,
        True,
    )
    assert log.filters["start"] == "2026-11-02" and log.filters["end"] == "2026-11-08"
    get_xlsx(client, cast.auditor, kind="transitions")
    assert ExportLog.objects.count() == 2
    x = ExportLog.objects.order_by("-pk").first()
    assert (x.kind, x.format, x.completed) == ("transitions", "xlsx", True)
    assert x.rows == AuditEntry.objects.filter(at__gte=h(0), at__lt=h(24 * 7)).count()


def test_headers_follow_the_users_language(world, cast, client):
    client.force_login(cast.auditor)
    resp = client.get(URL.format(kind="tickets", fmt="csv"), WEEK, HTTP_ACCEPT_LANGUAGE="en")
    first = b"".join(resp.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert first.startswith("Number,Channel,State")
    assert not [c for c in first if "\u4e00" <= c <= "\u9fff"], first


def test_bad_filters_give_a_clear_error_not_a_500(cast, client):
    client.force_login(cast.auditor)
    resp = client.get(URL.format(kind="tickets", fmt="csv"), {"period": "custom", "start": "x"})
    assert resp.status_code == 400
    assert 'class="errorlist"' in resp.content.decode()
    assert ExportLog.objects.count() == 0


@requires_postgres
@pytest.mark.postgres
@pytest.mark.parametrize(
    "count, workers, chunk",
    [
        (None, 1, 3),
        ("closed", 1, 3),
        # 17 orders, 4 a chunk: the last chunk holds a single order.
        (None, 1, 4),
        # Chunks rendered on connections of their own see committed orders only.
        pytest.param(
            None, 2, 3, marks=pytest.mark.django_db(transaction=True, serialized_rollback=True)
        ),
    ],
)
def test_postgres_fast_path_writes_the_same_csv_as_the_python_path(
    world, cast, settings, count, workers, chunk
):
    """Byte for byte: quoting (comma, quote, CR, LF), formula neutralisation, masking, names
    with odd whitespace, co-handling (several departments, in the order they were asked,
    which is not the departments' order; none), unknown choice values, and hours that are
    exact ties when rounded (54 s = 0.015 h; 9 min overdue = 0.15 h), over several chunks,
    rendered on the request's connection or two at a time on connections of their own."""
    from datetime import date, timedelta

    from reports import exports, exports_pg
    from reports.filters import ReportFilters
    from reports.kpis import Scope, period_for
    from sla.models import Clock
    from workorders.models import CoHandling, Ticket

    settings.REPORTS_EXPORT_PG_CHUNK = chunk
    settings.REPORTS_EXPORT_PG_WORKERS = workers
    now = h(24 * 7 + 10)
    cast.handler.last_name, cast.handler.first_name = " 王", "\u3000"
    cast.handler.save()
    cast.lead.last_name, cast.lead.first_name = "=李", "四"
    cast.lead.save()
    odd = report(
        cast,
        now=h(3),
        phone="0571-8888 1234",
        customer_name='-"张,三"',
        customer_region="杭州,滨江",
        description='第一行\n第二行, "引号"\r\n=SUM(A1)',
        urgency_reason="@x",
    )
    Ticket.objects.filter(pk=odd.pk).update(channel="fax", last_return_ruling="upheld")
    Clock.objects.filter(pk=odd.promise_clock_id).update(
        paused_seconds=54, due_at=now - timedelta(minutes=9)
    )
    # Where COPY's CSV writer could part from csv.writer: backslashes (text-format COPY escapes
    # them), a lone quote, a line break at the very end of a quoted field, a field of spaces,
    # tab / CR / + at the start, a full-width ＝ (not neutralised), 4-byte UTF-8, a time 1 µs
    # before the hour (truncated, not rounded: the time zone is the chunk's own), a "no" visit.
    odd2 = report(cast, now=h(5) - timedelta(microseconds=1), phone="13900001111")
    Ticket.objects.filter(pk=odd2.pk).update(
        customer_name="＝全角",
        customer_region="+86",
        description="C:\\temp\\new 😀\n",
        urgency_reason="\t制表",
        last_return_reason='"',
        reply_result="\r回车",
        visit_resolved=False,
        star_level=None,
        customer_phone="   ",
    )
    o1 = world["o1"]
    Clock.objects.filter(pk=o1.promise_clock_id).update(paused_seconds=54)
    for dept in (cast.business, cast.channel):
        CoHandling.objects.create(ticket=o1, department=dept, created_at=h(3))
    # Asked in the other order than the departments' ids: written in the order asked.
    for dept in (cast.channel, cast.business, cast.network):
        CoHandling.objects.create(ticket=odd, department=dept, created_at=h(3))
    Ticket.objects.filter(pk=world["o2"].pk).update(reply_result='已处理,"OK"')
    # Every branch of the phone mask (done in SQL on this path): fixed lines with and without
    # the hyphen (3- and 4-digit area codes), a mobile with spaces around it, short numbers.
    for i, phone in enumerate(
        ["01012345678", "057112345678", "010-1234567", " 13912345678 ", "12345", "123", ""]
    ):
        extra = report(cast, now=h(4), phone=f"1390000{i:04d}", customer_name=f"客户{i}")
        Ticket.objects.filter(pk=extra.pk).update(customer_phone=phone)

    period = period_for("custom", start=date(2026, 11, 2), end=date(2026, 11, 8))
    filters = ReportFilters(period=period, scope=Scope(), group_by=None, count=count, params={})
    for user in (cast.auditor, cast.lead, cast.frontline, cast.dispatcher):
        python = "".join(
            text
            for _n, text in exports.csv_rows_as_chunks(
                exports.ticket_rows(user=user, filters=filters, now=now)
            )
        )
        qs = exports.export_tickets_queryset(user=user, filters=filters)
        chunks = list(exports_pg.ticket_csv_chunks(user=user, qs=qs, now=now))
        assert b"".join(text for _n, text in chunks) == python.encode(), user.username
        assert sum(n for n, _text in chunks) == python.count("\r\n") - (
            python.count("\r\n=SUM") if count is None else 0
        )
        if count is None and user is cast.auditor:
            assert len(chunks) == -(-17 // chunk)  # 17 orders
            assert '"第一行\n第二行, ""引号""\r\n=SUM(A1)"' in python
            assert "'=李四(t_lead)" in python and "王(t_handler)" in python
            assert ",fax," in python and "0571-****1234" in python
            assert ",010****5678," in python and ",0571****5678," in python
            assert ",010-***4567," in python and ",139****5678," in python
            assert ",*2345," in python and ",****," in python
            assert ',"C:\\temp\\new 😀\n",' in python and ',"""",' in python
            assert ",'\t制表," in python and ",'+86," in python and ",＝全角," in python
            assert ',"\'\r回车",' in python and ",2026-11-02 13:59:59," in python
            assert ",渠道服务、业务管理、网络保障," in python and ",业务管理、渠道服务," in python
        if count is None and user is cast.dispatcher:
            assert ",057112345678," in python  # the right to the full number
            assert ",   ," in python  # spaces are not quoted
            assert ",0.02," in python and ",0.2," in python  # ties rounded up


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_export_on_two_connections_closes_them_when_the_client_leaves(
    world, cast, settings
):
    """A download abandoned after its first chunk leaves no connection behind."""
    from datetime import date

    from django.db import connection

    from reports import exports, exports_pg
    from reports.filters import ReportFilters
    from reports.kpis import Scope, period_for

    settings.REPORTS_EXPORT_PG_CHUNK = 2
    settings.REPORTS_EXPORT_PG_WORKERS = 2

    def backends():
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cur.fetchone()[0]

    before = backends()
    filters = ReportFilters(
        period=period_for("custom", start=date(2026, 11, 2), end=date(2026, 11, 8)),
        scope=Scope(),
        group_by=None,
        count=None,
        params={},
    )
    qs = exports.export_tickets_queryset(user=cast.auditor, filters=filters)
    chunks = exports_pg.ticket_csv_chunks(user=cast.auditor, qs=qs, now=h(24 * 7 + 10))

    def settled(want: int) -> int:
        """The count once it reaches `want`, or after 10 s: a closed connection's backend
        leaves pg_stat_activity a moment after the client has closed it."""
        import time

        deadline = time.monotonic() + 10
        while (n := backends()) != want and time.monotonic() < deadline:
            time.sleep(0.05)
        return n

    rows, text = next(chunks)
    assert rows == 2 and text.count(b"\r\n") == 2
    assert settled(before + 2) == before + 2
    chunks.close()
    assert settled(before) == before
