"""Report use cases with a rule or a write: exports (permission, log, response) and the
scheduled daily/weekly workbooks."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models.functions import Lower
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import Department, User
from jobs.locks import run_once
from notifications.models import Channel, Delivery
from notifications.outbox import deliveries_enqueue
from workorders.errors import NotAllowed
from workorders.permissions import (
    can_export,
    can_see_full_phone,
    can_view_reports,
    sees_all_tickets,
)

from . import exports, kpis
from .filters import ReportFilters
from .models import (
    ExportFormat,
    ExportKind,
    ExportLog,
    ReportFile,
    ReportFrequency,
    ReportRecipient,
)
from .routing import streamed_on_replica

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_chunks(kind: str, *, user, filters: ReportFilters):
    if kind == ExportKind.TICKETS:
        return exports.ticket_csv_chunks(user=user, filters=filters)
    return exports.csv_rows_as_chunks(exports.transition_rows(user=user, filters=filters))


def _sheet(kind: str, *, user, filters: ReportFilters, readable: bool = True):
    if kind == ExportKind.TICKETS:
        return (
            pgettext("plural", "工单"),
            exports.ticket_headers(),
            exports.ticket_rows(user=user, filters=filters),
        )
    return (
        pgettext("plural", "流转记录"),
        exports.transition_headers(),
        exports.transition_rows(user=user, filters=filters, readable=readable),
    )


def export_start(*, user, filters: ReportFilters, kind: str, fmt: str) -> HttpResponse:
    """Export orders or the transition log as CSV (streamed) or XLSX. Needs `export_tickets`;
    rows are limited to what the user may see; one ExportLog row per export."""
    if user is None or not can_export(user):
        raise NotAllowed(_("您没有导出权限。"))
    if kind not in ExportKind.values or fmt not in ExportFormat.values:
        raise ValueError(kind, fmt)
    log = ExportLog.objects.create(
        user=user, created_at=timezone.now(), kind=kind, format=fmt, filters=filters.as_json()
    )
    title, headers, rows = _sheet(kind, user=user, filters=filters)
    name = exports.export_filename(kind, filters, fmt)
    if fmt == ExportFormat.CSV:
        chunks = _csv_chunks(kind, user=user, filters=filters)
        response = StreamingHttpResponse(
            streamed_on_replica(exports.csv_stream(headers, chunks, log)), content_type=CSV_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    path, (count,) = exports.xlsx_file([(title, headers, rows)])
    ExportLog.objects.filter(pk=log.pk).update(
        rows=count, completed=True, finished_at=timezone.now()
    )
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    os.unlink(path)  # the open handle keeps the data until the response is sent
    return FileResponse(handle, as_attachment=True, filename=name, content_type=XLSX_TYPE)


# --------------------------------------------------------------------------- scheduled reports


def scheduled_period(frequency: str, *, now: datetime) -> kpis.Period:
    """The period a report run at `now` covers: yesterday, or last week (Monday–Sunday)."""
    kind = "yesterday" if frequency == ReportFrequency.DAILY else "last_week"
    return kpis.period_for(kind, now=now)


def kpi_summary_rows(row: kpis.KpiRow) -> list[list]:
    out = []
    for f in row.figures.values():
        out.append([str(f.label), f.numerator, f.denominator, f.rate])
    out.append([_("净处理时长均值(小时)"), None, None, row.net_mean_hours])
    out.append([_("净处理时长P90(小时)"), None, None, row.net_p90_hours])
    return out


def report_workbook(
    *, period: kpis.Period, department: Department | None, now: datetime, full_phone: bool
) -> tuple[str, int]:
    """A workbook: KPI summary sheet, department scorecard, and the orders reported in the
    period (scoped to the department subtree when given), phones masked unless built for
    readers who may see them (`full_phone`). Returns (temp path, order rows)."""
    scope = kpis.Scope(department=department)
    summary = kpis.kpi_summary(user=None, period=period, scope=scope)
    board = kpis.scorecard_departments(
        kpis.department_scorecard(user=None, period=period, scope=scope)
    )
    filters = ReportFilters(period=period, scope=scope, group_by=None, count=None, params={})
    keys = ("received", *kpis.HEADLINE, "on_time_closure_effective", "first_time", "return")
    board_rows = [
        [
            r.label,
            *(
                r.figures[k].rate if kpis.KPI_BY_KEY[k].denominator else r.figures[k].numerator
                for k in keys
            ),
        ]
        for r in board
    ]
    limit = settings.REPORTS_SCHEDULED_MAX_ROWS
    path, counts = exports.xlsx_file(
        [
            (
                _("指标汇总"),
                [_("指标"), _("分子"), _("分母"), _("比率(%)")],
                iter([[_("统计周期"), period.label, None, None], *kpi_summary_rows(summary)]),
            ),
            (
                _("部门排名"),
                [_("部门"), *(str(kpis.KPI_BY_KEY[k].label) for k in keys)],
                iter(board_rows),
            ),
            (
                pgettext("plural", "工单"),
                exports.ticket_headers(),
                exports.ticket_rows(
                    user=None, filters=filters, now=now, limit=limit, full_phone=full_phone
                ),
            ),
        ]
    )
    return path, counts[2]


def report_build_and_send(*, frequency: str, now: datetime | None = None) -> list[ReportFile]:
    """Build the company-wide workbook and one per department with recipients, for the period
    just ended; email each active recipient their department's file once. Phones are masked
    except in a second file built for the recipients who may see them in full. One run at a
    time (a run started while another runs does nothing and returns []); a run after a
    finished one finds the files built and mailed and sends nothing again."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    with run_once(f"reports.{frequency}", lease=lease) as mine:
        if not mine:
            return []
        return _build_and_send(frequency, now)


def _build_and_send(frequency: str, now: datetime) -> list[ReportFile]:
    period = scheduled_period(frequency, now=now)
    recipients = list(ReportRecipient.objects.filter(frequency=frequency, is_active=True))
    full = recipients_with_full_phone(recipients)
    dept_ids = sorted({r.department_id for r in recipients if r.department_id})
    departments = Department.objects.in_bulk(dept_ids)
    # Every scope gets the masked file (mail to the other recipients, downloads by anyone in
    # scope); a full-number file only where a recipient may see full numbers.
    variants = [(None, False), *((d, False) for d in dept_ids)]
    variants += [
        (d, True)
        for d in [None, *dept_ids]
        if any(r.pk in full and r.department_id == d for r in recipients)
    ]
    built = []
    with translation.override(settings.LANGUAGE_CODE):
        for dept_id, full_phone in variants:
            dept = departments.get(dept_id) if dept_id else None
            rf = _report_file(frequency, period, dept, full_phone=full_phone, now=now)
            built.append(rf)
            to = [
                r for r in recipients if r.department_id == dept_id and (r.pk in full) == full_phone
            ]
            _email_once(rf, to, period, now)
    return built


def recipients_with_full_phone(recipients: list[ReportRecipient]) -> set[int]:
    """The recipients (ids) who may receive customers' full phone numbers: their address
    belongs to active users who all may see them. An address no user has (a mailing list, an
    outsider) or one shared with a user who may not gets the masked file."""
    emails = {r.email.lower() for r in recipients}
    if not emails:
        return set()
    allowed: dict[str, bool] = {}
    users = User.objects.annotate(address=Lower("email")).filter(address__in=emails, is_active=True)
    for user in users:
        allowed[user.address] = allowed.get(user.address, True) and can_see_full_phone(user)
    return {r.pk for r in recipients if allowed.get(r.email.lower(), False)}


def _report_file(
    frequency: str,
    period: kpis.Period,
    dept: Department | None,
    *,
    full_phone: bool,
    now: datetime,
) -> ReportFile:
    rf = ReportFile.objects.filter(
        frequency=frequency, period_start=period.first_day, department=dept, full_phone=full_phone
    ).first()
    if rf is not None:
        return rf
    path, rows = report_workbook(period=period, department=dept, now=now, full_phone=full_phone)
    try:
        rf = ReportFile(
            frequency=frequency,
            period_start=period.first_day,
            period_end=period.last_day,
            department=dept,
            full_phone=full_phone,
            rows=rows,
            created_at=now,
        )
        with open(path, "rb") as fh:
            rf.file.save(_report_filename(frequency, period, dept, full_phone), File(fh))
    finally:
        os.unlink(path)
    return rf


def _report_filename(
    frequency: str, period: kpis.Period, dept: Department | None, full_phone: bool
) -> str:
    who = dept.code if dept else "all"
    suffix = "-full" if full_phone else ""
    return f"whistle-{frequency}-{who}-{period.first_day:%Y%m%d}{suffix}.xlsx"


def _email_once(rf: ReportFile, recipients, period: kpis.Period, now: datetime) -> int:
    """Mail the file to its recipients once: the claim on the file and the outbox rows (one
    per address, keyed by file and address) are one transaction, so a second run finds the
    file claimed and a failed send is retried by the relay, never lost or doubled."""
    if not recipients:
        return 0
    label = ReportFrequency(rf.frequency).label
    scope = rf.department.name if rf.department else _("全公司")
    subject = _("吹哨%(kind)s：%(scope)s %(period)s") % {
        "kind": label,
        "scope": scope,
        "period": period.label,
    }
    body = _("附件为%(scope)s %(period)s 的%(kind)s（指标汇总、部门排名、工单明细）。") % {
        "kind": label,
        "scope": scope,
        "period": period.label,
    }
    attachment = {
        "path": rf.file.name,
        "filename": os.path.basename(rf.file.name),
        "mimetype": XLSX_TYPE,
    }
    with transaction.atomic():
        claimed = ReportFile.objects.filter(pk=rf.pk, emailed_at__isnull=True).update(
            emailed_at=now
        )
        if not claimed:
            return 0
        deliveries_enqueue(
            Delivery(
                channel=Channel.EMAIL,
                key=f"report:{rf.pk}:{r.email.lower()}"[:200],
                kind="report",
                address=r.email,
                payload={"subject": subject, "body": body, "attachments": [attachment]},
                created_at=now,
            )
            for r in recipients
        )
    return len(recipients)


def _report_files_qs(user):
    if user is None or not can_view_reports(user):
        return ReportFile.objects.none()
    qs = ReportFile.objects.select_related("department")
    if not can_see_full_phone(user):
        qs = qs.filter(full_phone=False)
    if sees_all_tickets(user):
        return qs
    if user.department_id is None:
        return qs.none()
    return qs.filter(department__path__startswith=user.department.path)


def report_files_visible_to(user, *, limit: int = 12) -> dict[str, list[ReportFile]]:
    """The last `limit` periods of each frequency the user may download: everything for those
    who see all orders; a lead their own subtree's departments' files. Full-number files only
    for those who may see full phone numbers (and then instead of the masked one)."""
    qs = _report_files_qs(user)
    out = {}
    for freq in ReportFrequency.values:
        starts = list(
            qs.filter(frequency=freq)
            .order_by("-period_start")
            .values_list("period_start", flat=True)
            .distinct()[:limit]
        )
        files = list(
            qs.filter(frequency=freq, period_start__in=starts).order_by(
                "-period_start", "department__path"
            )
        )
        # One file per period and scope: the full-number one for those who may see it.
        full = {(f.period_start, f.department_id) for f in files if f.full_phone}
        out[freq] = [
            f for f in files if f.full_phone or (f.period_start, f.department_id) not in full
        ]
    return out


def report_file_for(user, pk: int) -> ReportFile | None:
    return _report_files_qs(user).filter(pk=pk).first()


def subscribers_import(*, rows) -> tuple[int, int]:
    """Load subscriber counts (`region`, `month` as YYYY-MM, `subscribers`) from CSV rows:
    all or nothing, each (region, month) inserted or replaced. Returns (created, updated);
    a bad row raises ValueError naming its line."""
    from datetime import date

    from .models import SubscriberCount

    parsed = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            region = (row.get("region") or "").strip()
            year, month = (row.get("month") or "").strip().split("-")[:2]
            first = date(int(year), int(month), 1)
            subscribers = int((row.get("subscribers") or "").strip())
            if not region or len(region) > 32 or subscribers < 0:
                raise ValueError
        except (ValueError, TypeError, AttributeError):
            raise ValueError(
                f"line {line}: expected region, month (YYYY-MM), subscribers"
            ) from None
        parsed.append((region, first, subscribers))
    created = updated = 0
    with transaction.atomic():
        for region, first, subscribers in parsed:
            _obj, new = SubscriberCount.objects.update_or_create(
                region=region, month=first, defaults={"subscribers": subscribers}
            )
            created += new
            updated += not new
    return created, updated
