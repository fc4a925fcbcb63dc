"""Fault figures (faults per period and category, orders and customers affected, time to
detect and to restore, share of fault-linked complaints) and the KPI report with and without
fault-linked orders. Every complaint still counts unless the filter leaves the linked out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault, FaultState
from faults.selectors import fault_report
from faults.services import fault_confirm, fault_dismiss, fault_resolve
from reports import kpis
from workorders import services as orders

from .conftest import order, orders_near

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cast, net):
    """In the last hours: a coverage fault (5 orders, two from one customer) confirmed 30 min
    after its first complaint and resolved 2 h later; a dismissed broadband cluster; three
    ordinary orders."""
    now = timezone.now().replace(microsecond=0)
    t0 = now - timedelta(hours=4)
    kids = orders_near(cast, net.coverage, n=5, now=t0, minutes_ago=0)
    kids[1].customer_phone = kids[0].customer_phone
    kids[1].save(update_fields=["customer_phone"])
    fault_detect(now=t0 + timedelta(minutes=10))
    confirmed = Fault.objects.get()
    first = min(k.reported_at for k in kids)
    fault_confirm(fault=confirmed, by=cast.dispatcher, now=first + timedelta(minutes=30))
    for k in kids:
        k.refresh_from_db()
        orders.ticket_claim(ticket=k, by=cast.lead, now=first + timedelta(minutes=40))
    fault_resolve(
        fault=confirmed,
        by=cast.lead,
        public_reply="已恢复",
        now=first + timedelta(minutes=30, hours=2),
    )
    orders_near(cast, net.broadband, n=5, now=now - timedelta(hours=1), north=9000)
    fault_detect(now=now - timedelta(minutes=50))
    dismissed = Fault.objects.get(state=FaultState.SUSPECTED)
    fault_dismiss(
        fault=dismissed, by=cast.dispatcher, reason="无关", now=now - timedelta(minutes=40)
    )
    plain = [order(cast, net.billing, at=now - timedelta(hours=2)) for _ in range(3)]
    return {"now": now, "kids": kids, "fault": confirmed, "dismissed": dismissed, "plain": plain}


def test_fault_figures_by_category(cast, net, world):
    now = world["now"]
    report = fault_report(user=cast.auditor, start=now - timedelta(days=1), end=now)
    rows = {r.key: r for r in report.rows}
    cov, bb = rows[net.coverage.pk], rows[net.broadband.pk]
    assert (cov.detected, cov.confirmed, cov.resolved, cov.dismissed) == (1, 1, 1, 0)
    assert (cov.orders, cov.customers) == (5, 4)  # two orders from one customer
    assert cov.detect_hours == 0.5 and cov.restore_hours == 2.0
    assert (bb.detected, bb.dismissed, bb.orders) == (1, 1, 0)  # dismissing released them
    assert (report.total.detected, report.total.orders) == (2, 5)
    # 13 complaints in the period, 5 of them in a (not dismissed) fault.
    assert (report.complaints, report.fault_linked, report.linked_share) == (13, 5, 38.5)


def test_a_category_filter_and_an_empty_period(cast, net, world):
    now = world["now"]
    report = fault_report(
        user=cast.auditor, start=now - timedelta(days=1), end=now, category_ids=[net.broadband.pk]
    )
    assert [r.key for r in report.rows] == [net.broadband.pk]
    assert (report.complaints, report.fault_linked) == (5, 0)
    empty = fault_report(
        user=cast.auditor, start=now - timedelta(days=9), end=now - timedelta(days=8)
    )
    assert empty.rows == [] and empty.total.detected == 0 and empty.linked_share is None


def test_kpis_with_and_without_fault_linked_orders(cast, world):
    now = world["now"]
    period = kpis.Period(now - timedelta(days=1), now + timedelta(minutes=1))
    with_all = kpis.kpi_summary(user=cast.auditor, period=period)
    without = kpis.kpi_summary(
        user=cast.auditor, period=period, scope=kpis.Scope(exclude_fault_linked=True)
    )
    assert with_all.counts["received"] == 13
    assert without.counts["received"] == 8
    # The children's own clocks count in the full figures (dispatch and sign-for clocks).
    assert with_all.counts["dispatch_stopped"] - without.counts["dispatch_stopped"] == 5
    assert with_all.counts["sign_stopped"] - without.counts["sign_stopped"] == 5
    # The page's single-pass figures agree.
    figures = kpis.report_figures(
        user=cast.auditor,
        period=kpis.period_for("today", now=now),
        scope=kpis.Scope(exclude_fault_linked=True),
    )
    assert (
        figures.current.counts["received"]
        == kpis.kpi_summary(
            user=cast.auditor,
            period=kpis.period_for("today", now=now),
            scope=kpis.Scope(exclude_fault_linked=True),
        ).counts["received"]
    )


def test_the_report_pages(cast, world):
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(cast.auditor)
    today = timezone.localdate(world["now"])
    span = {
        "period": "custom",
        "start": (today - timedelta(days=1)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }
    r = c.get(reverse("reports:faults"), span)
    assert r.status_code == 200
    html = r.content.decode()
    assert "38.5%" in html and 'id="kpi-without"' in html
    kpi = c.get(reverse("reports:index"), {**span, "exclude_fault_linked": "on"})
    assert kpi.status_code == 200
    assert kpi.context["filters"].scope.exclude_fault_linked
    assert 'name="exclude_fault_linked"' in kpi.content.decode()
    front = Client()
    front.force_login(cast.frontline)
    assert front.get(reverse("reports:faults")).status_code == 403
