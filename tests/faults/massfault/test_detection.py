"""Detection (DESIGN.md §10): at least N open orders of a clusterable category within T that
share the district or lie within R metres of each other become one suspected fault."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faults.detection import fault_detect
from faults.models import Fault, FaultAudit, FaultLink, FaultState, LinkHow
from faults.services import fault_dismiss

from .conftest import order, orders_near

pytestmark = pytest.mark.django_db


def linked(fault) -> set[int]:
    return set(fault.links.filter(unlinked_at__isnull=True).values_list("ticket_id", flat=True))


def test_five_orders_of_one_district_become_one_suspected_fault(cast, net, now):
    tickets = [
        order(cast, net.broadband, at=now - timedelta(minutes=10 * i), region="西湖区")
        for i in range(5)
    ]
    result = fault_detect(now=now)
    assert len(result.created) == 1
    fault = Fault.objects.get()
    assert fault.state == FaultState.SUSPECTED
    assert fault.number.startswith("QZ") and len(fault.number) == 14
    assert fault.region == "西湖区" and fault.by_district
    assert fault.category == net.broadband
    assert fault.department == cast.network
    assert linked(fault) == {t.pk for t in tickets}
    assert set(fault.links.values_list("how", flat=True)) == {LinkHow.AUTO}
    assert fault.order_count == 5
    assert fault.first_reported_at == now - timedelta(minutes=40)
    detect = FaultAudit.objects.get(fault=fault)
    assert (detect.transition, detect.actor, detect.actor_role) == ("detect", None, "system")
    assert sorted(detect.data["orders"]) == sorted(t.number for t in tickets)


def test_four_orders_are_not_enough(cast, net, now):
    for i in range(4):
        order(cast, net.broadband, at=now - timedelta(minutes=i), region="西湖区")
    assert fault_detect(now=now).created == []


def test_other_categories_and_non_clusterable_ones_do_not_mix(cast, net, now):
    for i in range(3):
        order(cast, net.broadband, at=now - timedelta(minutes=i), region="西湖区")
        order(cast, net.coverage, at=now - timedelta(minutes=i), region="西湖区")
    for i in range(6):
        order(cast, net.billing, at=now - timedelta(minutes=i), region="西湖区")
    assert fault_detect(now=now).created == []


def test_orders_within_the_radius_cluster_and_one_beyond_it_stays_out(cast, net, now):
    # Five orders on a 200 m circle (each within 400 m of the others); one at 1.2 km.
    near = orders_near(cast, net.coverage, n=5, now=now, spread=200)
    far = order(cast, net.coverage, at=now - timedelta(minutes=5), north=1200)
    fault_detect(now=now)
    fault = Fault.objects.get()
    assert linked(fault) == {t.pk for t in near}
    assert far.pk not in linked(fault)
    assert not fault.by_district
    assert fault.center_lat is not None and fault.radius_m <= 210


def test_distance_on_both_sides_of_r(cast, net, settings, now):
    """Four orders at one spot and a fifth 480 m away: a cluster; at 520 m: none."""
    settings.FAULTS_RADIUS_METERS = 500
    for i in range(4):
        order(cast, net.coverage, at=now - timedelta(minutes=i), north=0)
    inside = order(cast, net.coverage, at=now - timedelta(minutes=9), north=480)
    assert len(fault_detect(now=now).created) == 1
    assert inside.pk in linked(Fault.objects.get())

    for i in range(4):
        order(cast, net.broadband, at=now - timedelta(minutes=i), north=3000)
    outside = order(cast, net.broadband, at=now - timedelta(minutes=9), north=3520)
    assert fault_detect(now=now).created == []
    assert not FaultLink.objects.filter(ticket=outside).exists()


def test_the_window_edge_t(cast, net, settings, now):
    """Reported exactly T ago counts; one second earlier does not."""
    settings.FAULTS_WINDOW_MINUTES = 120
    for i in range(4):
        order(cast, net.broadband, at=now - timedelta(minutes=i), region="上城区")
    old = order(cast, net.broadband, at=now - timedelta(minutes=120, seconds=1), region="上城区")
    assert fault_detect(now=now).created == []
    edge = order(cast, net.broadband, at=now - timedelta(minutes=120), region="上城区")
    assert len(fault_detect(now=now).created) == 1
    members = linked(Fault.objects.get())
    assert edge.pk in members and old.pk not in members


def test_closed_orders_do_not_count(cast, net, now):
    from workorders import services

    tickets = [
        order(cast, net.broadband, at=now - timedelta(minutes=i), region="滨江区") for i in range(5)
    ]
    services.ticket_cancel(ticket=tickets[0], by=cast.dispatcher, reason="重复", now=now)
    assert fault_detect(now=now).created == []


def test_a_growing_cluster_updates_its_suspected_fault(cast, net, now):
    first = [
        order(cast, net.broadband, at=now - timedelta(minutes=30 + i), region="拱墅区")
        for i in range(5)
    ]
    fault_detect(now=now)
    fault = Fault.objects.get()
    later = now + timedelta(minutes=5)
    more = [
        order(cast, net.broadband, at=later - timedelta(minutes=i), region="拱墅区")
        for i in range(2)
    ]
    result = fault_detect(now=later)
    assert result.created == [] and result.grown == [fault.number]
    assert Fault.objects.count() == 1
    fault.refresh_from_db()
    assert linked(fault) == {t.pk for t in first + more}
    assert fault.order_count == 7


def test_a_growing_geo_cluster_updates_its_fault(cast, net, now):
    orders_near(cast, net.coverage, n=5, now=now, spread=150)
    fault_detect(now=now)
    later = now + timedelta(minutes=5)
    extra = order(cast, net.coverage, at=later, north=300)
    result = fault_detect(now=later)
    assert result.created == [] and Fault.objects.count() == 1
    assert extra.pk in linked(Fault.objects.get())


def test_a_second_run_without_news_changes_nothing(cast, net, now):
    orders_near(cast, net.coverage, n=6, now=now)
    fault_detect(now=now)
    before = FaultAudit.objects.count()
    result = fault_detect(now=now + timedelta(minutes=5))
    assert result.created == [] and result.grown == [] and result.linked == 0
    assert FaultAudit.objects.count() == before


def test_dismissed_clusters_are_not_suggested_again(cast, net, now):
    tickets = orders_near(cast, net.coverage, n=5, now=now)
    fault_detect(now=now)
    fault = Fault.objects.get()
    fault_dismiss(fault=fault, by=cast.dispatcher, reason="各自独立的室内覆盖问题", now=now)
    assert linked(fault) == set()
    result = fault_detect(now=now + timedelta(minutes=5))
    assert result.created == []
    assert Fault.objects.count() == 1
    # The same orders with one more nearby: still not suggested together (they were judged);
    # the new one alone is no cluster.
    order(cast, net.coverage, at=now + timedelta(minutes=6), north=50)
    assert fault_detect(now=now + timedelta(minutes=7)).created == []
    assert all(
        not FaultLink.objects.filter(ticket=t, unlinked_at__isnull=True).exists() for t in tickets
    )


def test_two_clusters_in_one_run_get_consecutive_numbers(cast, net, now):
    orders_near(cast, net.coverage, n=5, now=now)
    orders_near(cast, net.broadband, n=5, now=now, north=5000)
    result = fault_detect(now=now)
    assert len(result.created) == 2
    a, b = sorted(result.created)
    assert int(b[-4:]) == int(a[-4:]) + 1
