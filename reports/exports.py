"""Exports of orders (every field of DESIGN.md §7) and of the transition log, with the report's
filters. Rows come from `values_list` in keyset-paginated chunks (memory stays flat at any
size) and are joined to small precomputed lookups (users, departments, categories) in Python;
co-handling departments are fetched per chunk. CSV is streamed with a UTF-8 BOM (on
PostgreSQL the rows are formatted in SQL by `exports_pg`, byte-identical); XLSX is written by
our streaming writer (`xlsx.py`) to a temporary file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from accounts.models import Department, User
from accounts.roles import Role
from workorders.models import (
    AuditEntry,
    Category,
    CauseCategory,
    Channel,
    CoHandling,
    ReturnRuling,
    Satisfaction,
    State,
    Ticket,
    Urgency,
    VisitChannel,
    VisitOutcome,
)
from workorders.permissions import can_see_full_phone, mask_phone

from . import kpis
from .filters import ReportFilters
from .models import ExportLog

TZ = ZoneInfo(settings.TIME_ZONE)
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ (or tab/CR) is text."""
    if value and value[0] in DANGEROUS:
        return "'" + value
    return value


def hours(microseconds: int, places: int) -> float:
    """Microseconds as hours, rounded half away from zero on the exact value (as PostgreSQL
    rounds numeric), so both export paths agree to the last digit: float round() works on
    the binary approximation (round(0.15, 1) is 0.1 but 9 minutes are 0.15 h → 0.2)."""
    scale = 10**places
    q, r = divmod(abs(microseconds) * scale, 3_600_000_000)
    if 2 * r >= 3_600_000_000:
        q += 1
    if q == 0:
        return 0.0
    return q / scale if microseconds > 0 else -q / scale


US = timedelta(microseconds=1)


def _local(dt: datetime | None) -> datetime | None:
    """Aware → naive Asia/Shanghai wall time, whole seconds (what Excel and CSV show)."""
    if dt is None:
        return None
    return dt.astimezone(TZ).replace(tzinfo=None, microsecond=0)


TRANSITION_LABELS = {
    "report": pgettext_lazy("action", "吹哨"),
    "dispatch": pgettext_lazy("action", "派单"),
    "claim": pgettext_lazy("action", "签收"),
    "assign": pgettext_lazy("action", "指派"),
    "request_return": pgettext_lazy("action", "退单"),
    "rule_return": pgettext_lazy("action", "退单裁定"),
    "redispatch": pgettext_lazy("action", "转派"),
    "suspend": pgettext_lazy("action", "挂起"),
    "resume": pgettext_lazy("action", "解挂"),
    "extend": pgettext_lazy("action", "延期"),
    "reply": pgettext_lazy("action", "回单"),
    "reject_reply": pgettext_lazy("action", "驳回回单"),
    "propose_redo": pgettext_lazy("action", "申请重办"),
    "close": pgettext_lazy("action", "回访办结"),
    "redo": pgettext_lazy("action", "重办"),
    "cancel": pgettext_lazy("action", "作废"),
    "change_urgency": pgettext_lazy("action", "调整紧急程度"),
    "request_cohandling": pgettext_lazy("action", "协办"),
}

# --------------------------------------------------------------------------- orders

TICKET_FIELDS = (
    "id",
    "number",
    "channel",
    "state",
    "reporter_id",
    "reporter_department_id",
    "reported_at",
    "customer_name",
    "customer_phone",
    "customer_region",
    "star_level",
    "is_elderly",
    "claimed_escalation",
    "category_id",
    "urgency",
    "urgency_reason",
    "description",
    "dispatched_at",
    "dispatched_by_id",
    "department_id",
    "claimed_at",
    "claimed_by_id",
    "handler_id",
    "return_count",
    "last_return_reason",
    "last_return_ruling",
    "redispatch_count",
    "extension_count",
    "promise_clock__original_due_at",
    "promise_clock__due_at",
    "suspension_count",
    "promise_clock__paused_seconds",
    "replied_at",
    "reply_result",
    "reply_cause",
    "visit_at",
    "visit_outcome",
    "visit_resolved",
    "visit_satisfaction",
    "visit_channel",
    "closed_at",
    "promise_clock__started_at",
    "promise_clock__stopped_at",
    "promise_clock__paused_at",
    "promise_clock__voided",
    "chase_count",
    "supervise_count",
    "redo_count",
    "is_repeat",
    "repeat_of__number",
)


def ticket_headers() -> list[str]:
    """Column titles in the active language (DESIGN.md §7 order)."""
    return [
        _("工单号"),
        _("受理渠道"),
        _("状态"),
        _("吹哨人"),
        _("吹哨人部门"),
        _("报单时间"),
        _("客户姓名"),
        _("客户电话"),
        _("归属地区"),
        _("星级"),
        _("老年客户"),
        _("声称升级"),
        _("问题分类"),
        _("紧急程度"),
        _("紧急程度调整原因"),
        _("问题描述"),
        _("派单时间"),
        _("派单人"),
        _("责任部门"),
        _("协办部门"),
        _("签收时间"),
        _("签收人"),
        _("处理人"),
        _("退单次数"),
        _("最近退单原因"),
        _("最近退单裁定"),
        _("转派次数"),
        _("延期次数"),
        _("原始时限"),
        _("有效时限"),
        _("挂起次数"),
        _("挂起累计(小时)"),
        _("回复时间"),
        _("处理结果"),
        _("原因分类"),
        _("回访时间"),
        _("回访结果"),
        _("客户确认已解决"),
        _("满意度"),
        _("回访渠道"),
        _("办结时间"),
        _("净处理时长(小时)"),
        _("是否超时"),
        _("超时(小时)"),
        _("催办次数"),
        _("督办次数"),
        _("重办次数"),
        _("重复投诉"),
        _("前次工单"),
    ]


def _choices(enum) -> dict:
    return {k: str(v) for k, v in enum.choices}


def _user_names() -> dict[int, str]:
    out = {}
    for pk, username, first, last in User.objects.values_list(
        "pk", "username", "first_name", "last_name"
    ).iterator(chunk_size=5000):
        full = f"{last}{first}".strip()
        out[pk] = f"{full}({username})" if full else username
    return out


def export_tickets_queryset(*, user, filters: ReportFilters) -> QuerySet[Ticket]:
    """The orders of an export: the orders behind a count when drilling down, otherwise the
    orders reported in the period, in scope, as the user sees them."""
    if filters.count:
        return kpis.orders_behind(
            user=user, period=filters.period, scope=filters.scope, count=filters.count
        )
    return kpis.source_rows(kpis.SOURCES[0], user=user, period=filters.period, scope=filters.scope)


def _chunks(qs: QuerySet, fields: tuple[str, ...], chunk: int) -> Iterator[list[tuple]]:
    """Keyset pagination on the primary key: each chunk is one indexed query; nothing keeps
    a server-side cursor open between chunks."""
    last = 0
    qs = qs.order_by("pk")
    while True:
        rows = list(qs.filter(pk__gt=last).values_list(*fields)[:chunk])
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        last = rows[-1][0]


def ticket_rows(
    *,
    user,
    filters: ReportFilters,
    now: datetime | None = None,
    limit: int | None = None,
    full_phone: bool = False,
) -> Iterator[list]:
    """Export rows (typed: str, int, float, naive local datetime or None), header excluded.
    Phones are masked unless `user` may see them; with no user (a scheduled workbook) unless
    the caller builds for readers who may (`full_phone`)."""
    now = now or timezone.now()
    qs = export_tickets_queryset(user=user, filters=filters)
    chunk = settings.REPORTS_EXPORT_CHUNK
    users = _user_names()
    depts = dict(Department.objects.values_list("pk", "name"))
    cats = {c.pk: str(c) for c in Category.objects.select_related("parent")}
    channel, state, urgency = _choices(Channel), _choices(State), _choices(Urgency)
    ruling, cause = _choices(ReturnRuling), _choices(CauseCategory)
    outcome, satisfaction = _choices(VisitOutcome), _choices(Satisfaction)
    visit_channel = _choices(VisitChannel)
    yes, no = _("是"), _("否")
    if user is not None:
        full_phone = can_see_full_phone(user)
    uid = getattr(user, "pk", None)
    local = _local
    neut = neutralise
    n = 0
    for rows in _chunks(qs, TICKET_FIELDS, chunk):
        co: dict[int, list[str]] = {}
        ids = [r[0] for r in rows]
        for tid, dep in (
            CoHandling.objects.filter(ticket_id__in=ids)
            .order_by("id")
            .values_list("ticket_id", "department_id")
        ):
            co.setdefault(tid, []).append(depts.get(dep, ""))
        for r in rows:
            (
                pk,
                number,
                ch,
                st,
                reporter,
                reporter_dept,
                reported_at,
                cname,
                phone,
                region,
                star,
                elderly,
                claimed_esc,
                cat,
                urg,
                urg_reason,
                desc,
                dispatched_at,
                dispatched_by,
                dept,
                claimed_at,
                claimed_by,
                handler,
                returns,
                ret_reason,
                ret_ruling,
                redispatches,
                extensions,
                orig_due,
                due,
                suspensions,
                paused,
                replied_at,
                result,
                reply_cause,
                visit_at,
                visit_outcome,
                visit_resolved,
                visit_sat,
                visit_ch,
                closed_at,
                p_start,
                p_stop,
                p_paused_at,
                p_voided,
                chases,
                supervises,
                redos,
                repeat,
                repeat_of,
            ) = r
            if not (full_phone or reporter == uid):
                phone = mask_phone(phone)
            net = overdue_h = None
            overdue = False
            if p_stop is not None and not p_voided:
                net = hours((p_stop - p_start) // US - paused * 1_000_000, 2)
                if due is not None and p_stop > due:
                    overdue, overdue_h = True, hours((p_stop - due) // US, 1)
            elif due is not None and not p_voided:
                ref = p_paused_at or now
                if ref > due:
                    overdue, overdue_h = True, hours((ref - due) // US, 1)
            yield [
                number,
                channel.get(ch, ch),
                state.get(st, st),
                neut(users.get(reporter, "")),
                depts.get(reporter_dept, ""),
                local(reported_at),
                neut(cname),
                phone,
                neut(region),
                star,
                yes if elderly else no,
                yes if claimed_esc else no,
                cats.get(cat, ""),
                urgency.get(urg, urg),
                neut(urg_reason),
                neut(desc),
                local(dispatched_at),
                neut(users.get(dispatched_by, "")),
                depts.get(dept, ""),
                "、".join(co.get(pk, ())),
                local(claimed_at),
                neut(users.get(claimed_by, "")),
                neut(users.get(handler, "")),
                returns,
                neut(ret_reason),
                ruling.get(ret_ruling, ""),
                redispatches,
                extensions,
                local(orig_due),
                local(due),
                suspensions,
                hours((paused or 0) * 1_000_000, 2),
                local(replied_at),
                neut(result),
                cause.get(reply_cause, ""),
                local(visit_at),
                outcome.get(visit_outcome, ""),
                "" if visit_resolved is None else (yes if visit_resolved else no),
                satisfaction.get(visit_sat, ""),
                visit_channel.get(visit_ch, ""),
                local(closed_at),
                net,
                yes if overdue else no,
                overdue_h,
                chases,
                supervises,
                redos,
                yes if repeat else no,
                repeat_of or "",
            ]
            n += 1
            if limit is not None and n >= limit:
                return


# --------------------------------------------------------------------------- transition log

AUDIT_FIELDS = (
    "id",
    "ticket__number",
    "transition",
    "source",
    "target",
    "actor_id",
    "actor_role",
    "at",
    "comment",
    "data",
)


def transition_headers() -> list[str]:
    return [
        _("工单号"),
        _("动作"),
        _("原状态"),
        _("新状态"),
        _("操作人"),
        _("角色"),
        _("时间"),
        _("说明"),
        _("数据"),
    ]


def export_transitions_queryset(*, user, filters: ReportFilters) -> QuerySet[AuditEntry]:
    """Audit rows written in the period for orders in scope (or behind a drilled count)."""
    source = kpis.Source(
        "audit", AuditEntry, "at", "ticket__", "ticket__department_id", kpis.Q(), {}
    )
    qs = kpis.source_rows(source, user=user, period=filters.period, scope=filters.scope)
    if filters.count:
        qs = qs.filter(ticket__in=export_tickets_queryset(user=user, filters=filters).values("pk"))
    return qs


# The keys of an audit entry's data, in the user's language (the XLSX transition log).
DATA_LABELS = {
    "department": pgettext_lazy("audit data", "部门"),
    "departments": pgettext_lazy("audit data", "协办部门"),
    "system": pgettext_lazy("audit data", "自动派单"),
    "from": pgettext_lazy("audit data", "原"),
    "to": pgettext_lazy("audit data", "新"),
    "due": pgettext_lazy("audit data", "时限"),
    "handler": pgettext_lazy("audit data", "处理人"),
    "ruling": pgettext_lazy("audit data", "裁定"),
    "repeat_of": pgettext_lazy("audit data", "前次工单"),
    "duplicate_of": pgettext_lazy("audit data", "重复工单"),
    "reason": pgettext_lazy("audit data", "原因"),
    "until": pgettext_lazy("audit data", "预计恢复"),
    "hours": pgettext_lazy("audit data", "延期小时数"),
    "outcome": pgettext_lazy("audit data", "回访结果"),
    "resolved": pgettext_lazy("audit data", "已解决"),
    "satisfaction": pgettext_lazy("audit data", "满意度"),
    "channel": pgettext_lazy("audit data", "回访渠道"),
    "orders": pgettext_lazy("audit data", "工单"),
    "fault": pgettext_lazy("audit data", "群障"),
    "how": pgettext_lazy("audit data", "方式"),
    "reporter": pgettext_lazy("audit data", "吹哨人"),
}


def _data_value(key: str, value, choices: dict) -> str:
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(_data_value(key, v, choices) for v in value)
    if isinstance(value, dict):  # a clock kind → [old due, new due]
        return ", ".join(
            f"{choices['clock'].get(k, k)} "
            + (
                " → ".join(_data_value(k, x, choices) for x in v)
                if isinstance(v, list)
                else _data_value(k, v, choices)
            )
            for k, v in value.items()
        )
    if isinstance(value, str):
        if key in choices and value in choices[key]:
            return choices[key][value]
        if value in choices["urgency"] and key in ("from", "to"):
            return choices["urgency"][value]
        if len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                return value
            if when.tzinfo is not None:
                when = when.astimezone(TZ)
            return f"{when:%Y-%m-%d %H:%M}"
    return str(value)


def readable_data(data: dict, choices: dict | None = None) -> str:
    """An audit entry's data for people: "部门: 网络部; 原因: …" in the active language,
    choices by their labels, times in Asia/Shanghai, yes/no for flags."""
    if not data:
        return ""
    choices = choices or data_choices()
    parts = []
    for key, value in data.items():
        label = DATA_LABELS.get(key, key)
        parts.append(f"{label}: {_data_value(key, value, choices)}")
    return "; ".join(parts)


def data_choices() -> dict:
    from sla.models import ClockKind

    return {
        "satisfaction": _choices(Satisfaction),
        "channel": _choices(VisitChannel),
        "outcome": _choices(VisitOutcome),
        "ruling": _choices(ReturnRuling),
        "urgency": _choices(Urgency),
        "clock": _choices(ClockKind),
    }


def transition_rows(*, user, filters: ReportFilters, readable: bool = False) -> Iterator[list]:
    """The transition log's rows; `readable` (the XLSX) writes the data column for people
    (`readable_data`), otherwise (CSV) as JSON."""
    import json

    choices = data_choices() if readable else None
    qs = export_transitions_queryset(user=user, filters=filters)
    users = _user_names()
    state = _choices(State)
    roles = {**_choices(Role), "system": _("系统")}
    labels = {k: str(v) for k, v in TRANSITION_LABELS.items()}
    for rows in _chunks(qs, AUDIT_FIELDS, settings.REPORTS_EXPORT_CHUNK):
        for _pk, number, tr, src, tgt, actor, role, at, comment, data in rows:
            yield [
                number,
                labels.get(tr, tr),
                state.get(src, src),
                state.get(tgt, tgt),
                neutralise(users.get(actor, "") if actor else roles["system"]),
                roles.get(role, role),
                _local(at),
                neutralise(comment),
                (
                    neutralise(readable_data(data, choices))
                    if readable
                    else neutralise(json.dumps(data, ensure_ascii=False))
                )
                if data
                else "",
            ]


# --------------------------------------------------------------------------- writers


def csv_number(v: float) -> str:
    """Up to two decimals, trailing zeros dropped (10.0 → "10", 29.33 → "29.33")."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _csv_cell(v):
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, float):
        return csv_number(v)
    return v


def csv_rows_as_chunks(rows: Iterator[list], per_chunk: int = 2000) -> Iterator[tuple[int, str]]:
    """The generic path: typed rows → (rows, CSV text) chunks via the csv module."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    pending = 0
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        pending += 1
        if pending >= per_chunk:
            yield pending, buf.getvalue()
            buf.seek(0)
            buf.truncate()
            pending = 0
    if pending:
        yield pending, buf.getvalue()


def ticket_csv_chunks(*, user, filters: ReportFilters, now: datetime | None = None):
    """CSV chunks of the orders export; PostgreSQL renders the lines itself (fast path)."""
    from django.db import connection

    now = now or timezone.now()
    if connection.vendor == "postgresql":
        from .exports_pg import ticket_csv_chunks as pg_chunks

        qs = export_tickets_queryset(user=user, filters=filters)
        return pg_chunks(user=user, qs=qs, now=now)
    return csv_rows_as_chunks(ticket_rows(user=user, filters=filters, now=now))


def csv_stream(
    headers: list[str], chunks: Iterator[tuple[int, str]], log: ExportLog
) -> Iterator[bytes]:
    """UTF-8 with BOM (Excel opens Chinese headers correctly); the log row gets its count
    once the last row is out (or the client went away)."""
    n = 0
    try:
        buf = io.StringIO()
        csv.writer(buf).writerow(headers)
        yield "\ufeff".encode() + buf.getvalue().encode("utf-8")
        for count, text in chunks:
            n += count
            yield text if isinstance(text, bytes) else text.encode("utf-8")
        log.completed = True
    finally:
        log.rows = n
        log.finished_at = timezone.now()
        ExportLog.objects.filter(pk=log.pk).update(
            rows=n, completed=log.completed, finished_at=log.finished_at
        )


def xlsx_file(sheets: list[tuple[str, list[str], Iterator[list]]]) -> tuple[str, list[int]]:
    """Write the sheets to a temporary .xlsx, streaming (memory stays flat). Returns the
    path (the caller deletes it) and the row count of each sheet."""
    from .xlsx import XlsxWriter

    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="whistle-export-")
    os.close(fd)
    writer = XlsxWriter(path)
    try:
        counts = [writer.add_sheet(title, headers, rows) for title, headers, rows in sheets]
    finally:
        writer.close()
    return path, counts


def export_filename(kind: str, filters: ReportFilters, fmt: str) -> str:
    return (
        f"whistle-{kind}-{filters.period.first_day:%Y%m%d}-{filters.period.last_day:%Y%m%d}.{fmt}"
    )
