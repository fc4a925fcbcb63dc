"""The mass-fault report page (/reports/faults/): faults per period and category, the orders
and customers they held, time to detect and to restore, and the share of complaints that were
fault-linked. The figures are `faults.selectors.fault_report`'s (SQL); the period and the
category come from the report's filter form."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from faults.selectors import fault_report

from .filters import parse_filters
from .views import _require_reports


@login_required
def faults_page(request):
    user = request.user
    _require_reports(user)
    filters, form = parse_filters(request.GET or {"period": "month"}, now=timezone.now())
    ctx = {"form": form, "filters": filters, "action": reverse("reports:faults")}
    if filters is None:
        return render(request, "reports/faults.html", ctx, status=400)
    report = fault_report(
        user=user,
        start=filters.period.start,
        end=filters.period.end,
        category_ids=filters.scope.category_ids(),
    )
    with_faults = filters.query(exclude_fault_linked=None, count=None)
    ctx.update(
        {
            "period": filters.period,
            "report": report,
            "kpi_with": reverse("reports:index") + "?" + with_faults,
            "kpi_without": reverse("reports:index")
            + "?"
            + filters.query(exclude_fault_linked="on", count=None),
        }
    )
    return render(request, "reports/faults.html", ctx)
