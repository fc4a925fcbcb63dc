"""Report pages: the KPI page, the drill-down order list, exports and scheduled-file downloads.
Thin: parse filters, call the selectors/services, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from sla.models import SlaStatus
from workorders.errors import NotAllowed
from workorders.models import State, VisitChannel
from workorders.permissions import can_export, can_see_full_phone, can_view_reports, mask_phone

from . import charts, kpis, services
from .filters import DEFAULT_PERIOD, ReportFilters, parse_filters
from .models import ReportFrequency
from .routing import on_replica


def _require_reports(user) -> None:
    if not can_view_reports(user):
        raise PermissionDenied(_("您没有查看报表的权限。"))


def _link(filters: ReportFilters, **overrides) -> str:
    return reverse("reports:orders") + "?" + filters.query(**overrides)


def _group_overrides(group_by: str, row: kpis.KpiRow) -> dict | None:
    """The filter that narrows the report to one group row (None: no link possible)."""
    if group_by == "department":
        if row.key is None:
            return {"department": None, "dept_exact": None, "no_department": "1"}
        return {"department": row.key, "dept_exact": "1"}
    if group_by in kpis.TIME_GROUPS:
        return {
            "period": "custom",
            "start": row.period.first_day.isoformat(),
            "end": row.period.last_day.isoformat(),
        }
    if row.key in (None, ""):
        return None
    return {group_by: row.key}


def _figure_cells(filters: ReportFilters, row: kpis.KpiRow, keys, overrides: dict | None):
    cells = []
    for key in keys:
        f = row.figures[key]
        cell = {"figure": f, "num_url": None, "den_url": None}
        if overrides is not None:
            cell["num_url"] = _link(filters, count=f.numerator_count, **overrides)
            if f.denominator_count:
                cell["den_url"] = _link(filters, count=f.denominator_count, **overrides)
        cells.append(cell)
    return cells


SCORE_KEYS = (
    "received",
    "on_time_closure",
    "on_time_closure_effective",
    "response",
    "resolution",
    "satisfaction",
    "first_time",
    "return",
    "redo",
)


def late_text(seconds: float) -> str:
    """How late an order is: minutes under an hour ("35 分钟"), hours (one decimal) above."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return pgettext("late", "%(n)s 分钟") % {"n": minutes}
    return pgettext("late", "%(n)s 小时") % {"n": round(seconds / 3600, 1)}


@login_required
@on_replica
def report_page(request):
    user = request.user
    _require_reports(user)
    now = timezone.now()
    # Without filters: this month (Asia/Shanghai), the previous month beside it.
    filters, form = parse_filters(request.GET or {"period": DEFAULT_PERIOD}, now=now)
    ctx = {"form": form, "can_export": can_export(user), "filters": filters}
    if filters is None:
        return render(request, "reports/report.html", ctx, status=400)
    period, scope = filters.period, filters.scope
    trend_by = "day" if (period.end - period.start).days <= 31 else "week"
    if request.GET.get("trend") in ("day", "week"):
        trend_by = request.GET["trend"]
    figures = kpis.report_figures(user=user, period=period, scope=scope, trend_by=trend_by)
    current, previous = figures.current, figures.previous
    previous_period = period.previous()
    prev_filters = ReportFilters(
        period=previous_period,
        scope=scope,
        group_by=None,
        count=None,
        params={
            **filters.params,
            "period": "custom",
            "start": previous_period.first_day.isoformat(),
            "end": previous_period.last_day.isoformat(),
        },
    )
    headline = []
    for key in kpis.HEADLINE:
        (cur,) = _figure_cells(filters, current, [key], {})
        (prev,) = _figure_cells(prev_filters, previous, [key], {})
        headline.append({"current": cur, "previous": prev})
    by_channel = {key for _c, res, sat, _v in kpis.CHANNEL_KPIS for key in (res, sat)}
    all_figures = _figure_cells(
        filters, current, [k.key for k in kpis.KPIS if k.key not in by_channel], {}
    )
    channels = [
        {
            "label": VisitChannel(channel).label,
            "visits": current.counts.get(visits, 0),
            "visits_url": _link(filters, count=visits),
            "cells": _figure_cells(filters, current, [res, sat], {}),
        }
        for channel, res, sat, visits in kpis.CHANNEL_KPIS
    ]

    board = kpis.scorecard_departments(figures.scorecard)
    scorecard = [
        {
            "rank": i,
            "row": r,
            "cells": _figure_cells(filters, r, SCORE_KEYS, _group_overrides("department", r)),
        }
        for i, r in enumerate(board, start=1)
    ]
    trend_rows = figures.trend
    trend_svg = charts.trend_svg(
        trend_rows,
        keys=kpis.HEADLINE,
        link=lambda r: _link(filters, count="received", **_group_overrides(trend_by, r)),
    )
    grouped = None
    if filters.group_by and filters.group_by != "department":
        grouped = [
            {
                "row": r,
                "cells": _figure_cells(
                    filters, r, SCORE_KEYS, _group_overrides(filters.group_by, r)
                ),
            }
            for r in kpis.kpi_rows(
                user=user, period=period, scope=scope, group_by=filters.group_by, p90=False
            )
        ]
    backlog = kpis.backlog(user=user, scope=scope, now=now)
    for r in backlog["by_state"]:
        r["total_url"] = _link(filters, count=None, backlog="1", state=r["state"])
        r["cells"] = [
            {
                "n": r["bands"][code],
                "url": _link(filters, count=None, backlog="1", state=r["state"], band=code),
            }
            for code, _label in backlog["bands"]
        ]
    backlog["total_url"] = _link(filters, count=None, backlog="1")
    backlog["breached_url"] = _link(filters, count=None, backlog="1", breached="1")
    breached = kpis.breached_tickets(user=user, scope=scope, now=now).select_related(
        "department", "category", "category__parent", "promise_clock"
    )[:20]
    ctx.update(
        {
            "period": period,
            "previous_period": previous_period,
            "current": current,
            "previous": previous,
            "headline": headline,
            "all_figures": all_figures,
            "channels": channels,
            "scorecard": scorecard,
            "score_labels": [kpis.KPI_BY_KEY[k].label for k in SCORE_KEYS],
            "trend_svg": trend_svg,
            "trend_by": trend_by,
            "grouped": grouped,
            "group_label": kpis.GROUP_BY.get(filters.group_by or ""),
            "backlog": backlog,
            "breached": [_ticket_row(user, t, now) for t in breached],
            "report_files": [
                (ReportFrequency(f).label, files)
                for f, files in services.report_files_visible_to(user).items()
            ],
            "export_query": filters.query(),
        }
    )
    return render(request, "reports/report.html", ctx)


def _admin_url(t) -> str | None:
    try:
        return reverse("admin:workorders_ticket_change", args=[t.pk])
    except NoReverseMatch:
        return None


def _ticket_row(user, t, now) -> dict:
    phone = t.customer_phone if can_see_full_phone(user, t) else mask_phone(t.customer_phone)
    overdue = None
    if t.promise_due_at and t.state in kpis.OPEN_STATES and t.promise_due_at < now:
        overdue = late_text((now - t.promise_due_at).total_seconds())
    return {"t": t, "phone": phone, "url": _admin_url(t), "overdue": overdue}


@login_required
@on_replica
def orders_page(request):
    """The orders behind a number of the report (same filters, plus the count's name), or
    behind a backlog cell (state, age band, breached)."""
    user = request.user
    _require_reports(user)
    now = timezone.now()
    filters, form = parse_filters(request.GET, now=now)
    if filters is None:
        return render(request, "reports/orders.html", {"form": form}, status=400)
    title = _("工单列表")
    if request.GET.get("backlog"):
        qs = kpis.backlog_tickets(user=user, scope=filters.scope)
        title = _("积压工单")
        state = request.GET.get("state")
        if state:
            if state not in State.values:
                raise Http404
            qs = qs.filter(state=state)
            title += f" · {State(state).label}"
        band = request.GET.get("band")
        if band:
            try:
                qs = qs.filter(kpis.age_band_q(band, now))
            except ValueError:
                raise Http404 from None
            title += f" · {dict((c, lbl) for c, lbl, *_r in kpis.AGE_BANDS)[band]}"
        if request.GET.get("breached"):
            from sla.selectors import filter_sla_status

            qs = filter_sla_status(qs, SlaStatus.BREACHED, now=now)
            title += " · " + _("已超时")
    elif filters.count:
        qs = kpis.orders_behind(
            user=user, period=filters.period, scope=filters.scope, count=filters.count
        )
        title = f"{kpis.COUNT_LABELS[filters.count]} · {filters.period.label}"
    else:
        qs = kpis.source_rows(
            kpis.SOURCES[0], user=user, period=filters.period, scope=filters.scope
        )
        title = f"{_('受理量')} · {filters.period.label}"
    qs = qs.select_related("department", "category", "category__parent").order_by(
        "-reported_at", "-pk"
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ctx = {
        "title": title,
        "page": page,
        "rows": [_ticket_row(user, t, now) for t in page.object_list],
        "filters": filters,
        "query": filters.query(page=None),
        "extra_query": "&".join(
            f"{k}={request.GET[k]}"
            for k in ("backlog", "state", "band", "breached")
            if request.GET.get(k)
        ),
        "can_export": can_export(user) and not request.GET.get("backlog"),
        "export_query": filters.query(page=None),
    }
    return render(request, "reports/orders.html", ctx)


@login_required
@on_replica
def export_view(request, kind: str, fmt: str):
    user = request.user
    filters, form = parse_filters(request.GET, now=timezone.now())
    if filters is None:
        return render(request, "reports/orders.html", {"form": form}, status=400)
    try:
        return services.export_start(user=user, filters=filters, kind=kind, fmt=fmt)
    except NotAllowed as e:
        raise PermissionDenied(str(e.message)) from None
    except ValueError:
        raise Http404 from None


@login_required
def report_file_download(request, pk: int):
    rf = services.report_file_for(request.user, pk)
    if rf is None:
        raise Http404
    return FileResponse(
        rf.file.open("rb"), as_attachment=True, filename=rf.file.name.rsplit("/", 1)[-1]
    )
