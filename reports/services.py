"""Report use cases with a rule or a write: exports (permission, log, response) and the
scheduled daily/weekly workbooks."""

from __future__ import annotations

import os
from datetime import datetime

from django.conf import settings
from django.core.files import File
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import Department
from workorders.errors import NotAllowed
from workorders.permissions import can_export, can_view_reports, sees_all_tickets

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

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_chunks(kind: str, *, user, filters: ReportFilters):
    if kind == ExportKind.TICKETS:
        return exports.ticket_csv_chunks(user=user, filters=filters)
    return exports.csv_rows_as_chunks(exports.transition_rows(user=user, filters=filters))


def _sheet(kind: str, *, user, filters: ReportFilters):
    if kind == ExportKind.TICKETS:
        return (
            pgettext("plural", "工单"),
            exports.ticket_headers(),
            exports.ticket_rows(user=user, filters=filters),
        )
    return (
        pgettext("plural", "流转记录"),
        exports.transition_headers(),
        exports.transition_rows(user=user, filters=filters),
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
            exports.csv_stream(headers, chunks, log), content_type=CSV_TYPE
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
    *, period: kpis.Period, department: Department | None, now: datetime
) -> tuple[str, int]:
    """A workbook: KPI summary sheet, department scorecard, and the orders reported in the
    period (scoped to the department subtree when given). Returns (temp path, order rows)."""
    scope = kpis.Scope(department=department)
    summary = kpis.kpi_summary(user=None, period=period, scope=scope)
    board = kpis.department_scorecard(user=None, period=period, scope=scope)
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
                exports.ticket_rows(user=None, filters=filters, now=now, limit=limit),
            ),
        ]
    )
    return path, counts[2]


def report_build_and_send(*, frequency: str, now: datetime | None = None) -> list[ReportFile]:
    """Build the company-wide workbook and one per department with recipients, for the period
    just ended; email each active recipient their department's file once. Safe to run twice:
    a file already emailed is not sent again."""
    now = now or timezone.now()
    period = scheduled_period(frequency, now=now)
    recipients = ReportRecipient.objects.filter(frequency=frequency, is_active=True)
    departments: list[Department | None] = [None]
    dept_ids = sorted({r.department_id for r in recipients if r.department_id})
    departments += list(Department.objects.filter(pk__in=dept_ids))
    built = []
    with translation.override(settings.LANGUAGE_CODE):
        for dept in departments:
            rf = ReportFile.objects.filter(
                frequency=frequency, period_start=period.first_day, department=dept
            ).first()
            if rf is None:
                path, rows = report_workbook(period=period, department=dept, now=now)
                try:
                    rf = ReportFile(
                        frequency=frequency,
                        period_start=period.first_day,
                        period_end=period.last_day,
                        department=dept,
                        rows=rows,
                        created_at=now,
                    )
                    with open(path, "rb") as fh:
                        rf.file.save(_report_filename(frequency, period, dept), File(fh))
                finally:
                    os.unlink(path)
            built.append(rf)
            _email_once(
                rf,
                [r for r in recipients if r.department_id == (dept.pk if dept else None)],
                period,
                now,
            )
    return built


def _report_filename(frequency: str, period: kpis.Period, dept: Department | None) -> str:
    who = dept.code if dept else "all"
    return f"whistle-{frequency}-{who}-{period.first_day:%Y%m%d}.xlsx"


def _email_once(rf: ReportFile, recipients, period: kpis.Period, now: datetime) -> int:
    if not recipients:
        return 0
    with transaction.atomic():
        claimed = ReportFile.objects.filter(pk=rf.pk, emailed_at__isnull=True).update(
            emailed_at=now
        )
    if not claimed:
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
    rf.file.open("rb")
    try:
        content = rf.file.read()
    finally:
        rf.file.close()
    name = os.path.basename(rf.file.name)
    for r in recipients:
        msg = EmailMessage(subject, body, to=[r.email])
        msg.attach(name, content, XLSX_TYPE)
        msg.send()
    return len(recipients)


def _report_files_qs(user):
    if user is None or not can_view_reports(user):
        return ReportFile.objects.none()
    qs = ReportFile.objects.select_related("department")
    if sees_all_tickets(user):
        return qs
    if user.department_id is None:
        return qs.none()
    return qs.filter(department__path__startswith=user.department.path)


def report_files_visible_to(user, *, limit: int = 12) -> dict[str, list[ReportFile]]:
    """The last `limit` periods of each frequency the user may download: everything for those
    who see all orders; a lead their own subtree's departments' files."""
    qs = _report_files_qs(user)
    out = {}
    for freq in ReportFrequency.values:
        starts = list(
            qs.filter(frequency=freq)
            .order_by("-period_start")
            .values_list("period_start", flat=True)
            .distinct()[:limit]
        )
        out[freq] = list(
            qs.filter(frequency=freq, period_start__in=starts).order_by(
                "-period_start", "department__path"
            )
        )
    return out


def report_file_for(user, pk: int) -> ReportFile | None:
    return _report_files_qs(user).filter(pk=pk).first()
