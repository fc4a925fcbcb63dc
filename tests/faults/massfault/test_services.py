"""Working a fault: confirm (dispatches the children), dismiss, link and unlink by hand, the
ETA and its customer notices, resolve (one public reply → each child's own `reply`), close."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faults import events
from faults.detection import fault_detect
from faults.models import Fault, FaultAudit, FaultLink, FaultNotice, FaultState, LinkHow
from faults.services import (
    fault_close,
    fault_confirm,
    fault_dismiss,
    fault_link,
    fault_resolve,
    fault_set_eta,
    fault_unlink,
)
from sla.models import Clock, ClockKind
from tests.factories import ticket_in_state
from workorders import services as orders
from workorders.errors import Invalid, InvalidState, NotAllowed
from workorders.models import AuditEntry, State

from .conftest import order, orders_near

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Events of the given kinds published while the test runs."""
    from workorders import events as bus

    got: list[tuple[str, dict]] = []
    listeners = {}
    for kind in (events.FAULT, events.FAULT_BATCH, events.FAULT_ETA_CHANGED):
        listeners[kind] = lambda _k=kind, **payload: got.append((_k, payload))
        bus._listeners[kind].append(listeners[kind])
    yield got
    for kind, fn in listeners.items():
        bus._listeners[kind].remove(fn)


def suspected(cast, net, now, n=5, category=None, **kw) -> Fault:
    orders_near(cast, category or net.coverage, n=n, now=now, **kw)
    fault_detect(now=now)
    return Fault.objects.get(state=FaultState.SUSPECTED)


def children(fault):
    return list(
        fault.links.filter(unlinked_at__isnull=True)
        .select_related("ticket")
        .order_by("ticket__number")
    )


# --------------------------------------------------------------------------- confirm


def test_confirm_dispatches_every_child_waiting_for_dispatch(cast, net, now):
    fault = suspected(cast, net, now)
    first = children(fault)[0].ticket
    orders.ticket_dispatch(ticket=first, by=cast.dispatcher, department=cast.business, now=now)
    at = now + timedelta(minutes=1)
    outcome = fault_confirm(fault=fault, by=cast.dispatcher, now=at)
    fault = outcome.fault
    assert fault.state == FaultState.CONFIRMED
    assert (fault.confirmed_by, fault.confirmed_at, fault.department) == (
        cast.dispatcher,
        at,
        cast.network,
    )
    assert len(outcome.done) == 4
    for link in children(fault):
        t = link.ticket
        t.refresh_from_db()
        assert t.state == State.DISPATCHED
        if t.pk == first.pk:
            assert t.department == cast.business  # already had a department: kept
            continue
        assert t.department == cast.network
        row = AuditEntry.objects.get(ticket=t, transition="dispatch")
        assert (row.actor, row.at, row.data["fault"]) == (cast.dispatcher, at, fault.number)
        # The normal dispatch: the dispatch clock stopped, the sign-for clock runs.
        assert Clock.objects.get(ticket=t, kind=ClockKind.DISPATCH).stopped_at == at
        assert Clock.objects.filter(ticket=t, kind=ClockKind.SIGN_FOR, stopped_at=None).exists()
    audit = FaultAudit.objects.get(fault=fault, transition="confirm")
    assert (audit.source, audit.target, audit.actor) == ("suspected", "confirmed", cast.dispatcher)


def test_confirm_twice_is_refused_by_state(cast, net, now):
    fault = suspected(cast, net, now)
    fault_confirm(fault=fault, by=cast.dispatcher, now=now)
    with pytest.raises(InvalidState):
        fault_confirm(fault=fault, by=cast.dispatcher, now=now)


def test_only_dispatchers_confirm_and_dismiss(cast, net, now):
    fault = suspected(cast, net, now)
    for who in (cast.lead, cast.handler, cast.supervisor, cast.auditor, cast.frontline):
        with pytest.raises(NotAllowed):
            fault_confirm(fault=fault, by=who, now=now)
        with pytest.raises(NotAllowed):
            fault_dismiss(fault=fault, by=who, reason="x", now=now)
    assert Fault.objects.get().state == FaultState.SUSPECTED


def test_dismiss_needs_a_reason_and_releases_the_orders(cast, net, now):
    fault = suspected(cast, net, now)
    with pytest.raises(Invalid) as err:
        fault_dismiss(fault=fault, by=cast.dispatcher, reason="  ", now=now)
    assert "reason" in err.value.fields
    fault = fault_dismiss(fault=fault, by=cast.dispatcher, reason="互不相关", now=now)
    assert fault.state == FaultState.DISMISSED and fault.order_count == 0
    assert not FaultLink.objects.filter(unlinked_at__isnull=True).exists()
    assert set(FaultLink.objects.values_list("unlinked_by", flat=True)) == {cast.dispatcher.pk}


# --------------------------------------------------------------------------- link / unlink


def test_link_by_hand_and_unlink_with_a_reason(cast, net, now):
    fault = suspected(cast, net, now)
    other = order(cast, net.broadband, at=now, region="远处")  # same group, other category
    fault = fault_link(fault=fault, tickets=[other], by=cast.dispatcher, now=now)
    link = FaultLink.objects.get(ticket=other)
    assert (link.how, link.linked_by, link.linked_at) == (LinkHow.MANUAL, cast.dispatcher, now)
    assert fault.order_count == 6

    with pytest.raises(Invalid) as err:
        fault_unlink(fault=fault, ticket=other, by=cast.dispatcher, reason="", now=now)
    assert "reason" in err.value.fields
    fault = fault_unlink(fault=fault, ticket=other, by=cast.dispatcher, reason="误关联", now=now)
    link.refresh_from_db()
    assert (link.unlinked_by, link.unlink_reason) == (cast.dispatcher, "误关联")
    assert fault.order_count == 5
    assert [a.transition for a in FaultAudit.objects.filter(fault=fault)] == [
        "detect",
        "link",
        "unlink",
    ]


def test_linking_another_category_group_or_a_closed_order_is_refused(cast, net, now):
    fault = suspected(cast, net, now)
    billing = order(cast, net.billing, at=now)
    closed = ticket_in_state(
        cast, State.CLOSED, now=now - timedelta(hours=3), category=net.coverage
    )
    fine = order(cast, net.coverage, at=now, region="别处")
    with pytest.raises(Invalid) as err:
        fault_link(fault=fault, tickets=[billing, closed, fine], by=cast.dispatcher, now=now)
    messages = err.value.fields["tickets"]
    assert any(billing.number in m and "不属于同一类" in m for m in messages)
    assert any(closed.number in m and "已办结" in m for m in messages)
    assert not any(fine.number in m for m in messages)
    assert not FaultLink.objects.filter(ticket__in=[billing, closed, fine]).exists()


def test_an_order_is_in_one_fault_at_a_time(cast, net, now):
    a = suspected(cast, net, now, category=net.coverage)
    orders_near(cast, net.broadband, n=5, now=now, north=9000)
    fault_detect(now=now)
    b = Fault.objects.exclude(pk=a.pk).get()
    taken = children(a)[0].ticket
    with pytest.raises(Invalid) as err:
        fault_link(fault=b, tickets=[taken], by=cast.dispatcher, now=now)
    assert a.number in err.value.fields["tickets"][0]


def test_linking_to_a_confirmed_fault_dispatches_the_new_child(cast, net, now):
    fault = fault_confirm(fault=suspected(cast, net, now), by=cast.dispatcher, now=now).fault
    late = order(cast, net.coverage, at=now, region="别处")
    fault_link(fault=fault, tickets=[late], by=cast.lead, now=now)
    late.refresh_from_db()
    assert late.state == State.DISPATCHED and late.department == cast.network
    # The lead may not dispatch: the system did, as a routing rule would.
    row = AuditEntry.objects.get(ticket=late, transition="dispatch")
    assert row.actor is None and row.data["fault"] == fault.number


# --------------------------------------------------------------------------- ETA


def test_eta_needs_a_confirmed_fault_and_a_future_time(cast, net, now):
    fault = suspected(cast, net, now)
    with pytest.raises(InvalidState):
        fault_set_eta(fault=fault, by=cast.dispatcher, eta=now + timedelta(hours=2), now=now)
    fault = fault_confirm(fault=fault, by=cast.dispatcher, now=now).fault
    with pytest.raises(Invalid) as err:
        fault_set_eta(fault=fault, by=cast.dispatcher, eta=now - timedelta(minutes=1), now=now)
    assert "eta" in err.value.fields


def test_each_eta_change_is_told_once_to_every_linked_customer(cast, net, now, heard):
    fault = fault_confirm(fault=suspected(cast, net, now), by=cast.dispatcher, now=now).fault
    kids = [link.ticket for link in children(fault)]
    eta1 = now + timedelta(hours=2)
    fault_set_eta(fault=fault, by=cast.dispatcher, eta=eta1, message="基站抢修中", now=now)
    told = [p for k, p in heard if k == events.FAULT_ETA_CHANGED]
    assert len(told) == 1 and told[0]["eta_version"] == 1
    assert {n.ticket_id for n in told[0]["notices"]} == {t.pk for t in kids}

    # The same ETA and message again: no change, nobody is told again.
    fault_set_eta(fault=fault, by=cast.dispatcher, eta=eta1, message="基站抢修中", now=now)
    assert len([1 for k, _p in heard if k == events.FAULT_ETA_CHANGED]) == 1
    assert FaultAudit.objects.filter(fault=fault, transition="set_eta").count() == 1

    # A change: version 2, once per order.
    eta2 = now + timedelta(hours=3)
    fault_set_eta(fault=fault, by=cast.lead, eta=eta2, message="光缆中断，抢修中", now=now)
    told = [p for k, p in heard if k == events.FAULT_ETA_CHANGED]
    assert len(told) == 2 and told[1]["eta_version"] == 2
    assert FaultNotice.objects.filter(eta_version=2).count() == len(kids)
    audit = FaultAudit.objects.filter(fault=fault, transition="set_eta").last()
    assert audit.data["from"] == eta1.isoformat() and audit.data["to"] == eta2.isoformat()

    # A new child hears the current ETA once; unlinking and linking it again adds nothing.
    late = order(cast, net.coverage, at=now, region="别处")
    fault_link(fault=fault, tickets=[late], by=cast.dispatcher, now=now)
    fault_unlink(fault=fault, ticket=late, by=cast.dispatcher, reason="核对", now=now)
    fault_link(fault=fault, tickets=[late], by=cast.dispatcher, now=now)
    assert FaultNotice.objects.filter(ticket=late).count() == 1
    assert len([1 for k, _p in heard if k == events.FAULT_ETA_CHANGED]) == 3
    for t in kids:
        assert FaultNotice.objects.filter(ticket=t).count() == 2  # one per change


def test_confirm_with_an_eta_tells_the_customers(cast, net, now, heard):
    fault = suspected(cast, net, now)
    fault_confirm(
        fault=fault, by=cast.dispatcher, eta=now + timedelta(hours=1), message="抢修中", now=now
    )
    told = [p for k, p in heard if k == events.FAULT_ETA_CHANGED]
    assert len(told) == 1 and len(told[0]["notices"]) == 5


# --------------------------------------------------------------------------- resolve


def test_resolve_replies_to_every_open_child_and_reports_the_rest(cast, net, now):
    fault = suspected(cast, net, now, n=7)
    fault = fault_confirm(fault=fault, by=cast.dispatcher, now=now).fault
    kids = [link.ticket for link in children(fault)]
    t = now + timedelta(minutes=5)
    # accepted with a handler; dispatched (unclaimed); suspended; return requested; replied;
    # accepted in another department; cancelled after linking.
    accepted, unclaimed, suspended, returned, replied, elsewhere, cancelled = kids
    for k in (accepted, suspended, replied):
        orders.ticket_claim(ticket=k, by=cast.lead, handler=cast.handler, now=t)
    orders.ticket_suspend(
        ticket=suspended, by=cast.lead, reason="appointment", until=t + timedelta(hours=5), now=t
    )
    orders.ticket_request_return(ticket=returned, by=cast.lead, reason="非本部门", now=t)
    orders.ticket_reply(
        ticket=replied, by=cast.handler, result="已修复", cause="network", resolved=True, now=t
    )
    orders.ticket_redispatch(
        ticket=elsewhere, by=cast.dispatcher, department=cast.business, reason="改派", now=t
    )
    orders.ticket_claim(ticket=elsewhere, by=cast.other_lead, now=t)
    orders.ticket_cancel(ticket=cancelled, by=cast.dispatcher, reason="重复", now=t)

    at = now + timedelta(minutes=30)
    outcome = fault_resolve(
        fault=fault, by=cast.lead, public_reply="光缆已熔接，网络恢复正常。", now=at
    )
    assert outcome.fault.state == FaultState.RESOLVED
    assert sorted(c.number for c in outcome.done) == sorted([accepted.number, unclaimed.number])
    refused = {c.number: c for c in outcome.refused}
    assert set(refused) == {suspended.number, returned.number, replied.number, elsewhere.number}
    assert all(c.message for c in refused.values())
    assert "挂起" in refused[suspended.number].message

    for k in (accepted, unclaimed):
        k.refresh_from_db()
        assert k.state == State.REPLIED
        assert k.reply_result == "光缆已熔接，网络恢复正常。"
        row = AuditEntry.objects.get(ticket=k, transition="reply")
        assert (row.actor, row.actor_role, row.at) == (cast.lead, "lead", at)
        assert row.data["fault"] == fault.number
        # Each child's own clocks: the promise stopped at the reply, the visit started.
        assert Clock.objects.get(ticket=k, kind=ClockKind.PROMISE).stopped_at == at
        assert Clock.objects.filter(ticket=k, kind=ClockKind.VISIT, stopped_at=None).exists()
    unclaimed_claim = AuditEntry.objects.get(ticket=unclaimed, transition="claim")
    assert unclaimed_claim.data["fault"] == fault.number
    for k in (suspended, returned, elsewhere):
        before = k.state
        k.refresh_from_db()
        assert k.state == before
    audit = FaultAudit.objects.get(fault=fault, transition="resolve")
    assert sorted(audit.data["replied"]) == sorted([accepted.number, unclaimed.number])
    assert {r["number"] for r in audit.data["not_replied"]} == set(refused)


def test_only_the_fault_departments_lead_resolves(cast, net, now):
    fault = fault_confirm(fault=suspected(cast, net, now), by=cast.dispatcher, now=now).fault
    for who in (cast.dispatcher, cast.other_lead, cast.handler, cast.supervisor, cast.auditor):
        with pytest.raises(NotAllowed):
            fault_resolve(fault=fault, by=who, public_reply="已恢复", now=now)
    with pytest.raises(Invalid):
        fault_resolve(fault=fault, by=cast.lead, public_reply="", now=now)
    assert Fault.objects.get().state == FaultState.CONFIRMED


def test_close_by_a_dispatcher_and_by_the_system_when_children_are_done(cast, net, now):
    fault = fault_confirm(fault=suspected(cast, net, now), by=cast.dispatcher, now=now).fault
    fault = fault_resolve(fault=fault, by=cast.lead, public_reply="已恢复", now=now).fault
    # Replied children are still open: detection does not close the fault yet.
    assert fault_detect(now=now + timedelta(minutes=5)).closed == []
    for link in children(fault):
        orders.ticket_close(
            ticket=link.ticket,
            by=cast.dispatcher,
            outcome="success",
            resolved=True,
            satisfaction="satisfied",
            now=now + timedelta(minutes=6),
        )
    assert fault_detect(now=now + timedelta(minutes=10)).closed == [fault.number]
    fault.refresh_from_db()
    assert fault.state == FaultState.CLOSED
    assert FaultAudit.objects.get(fault=fault, transition="close").actor_role == "system"


def test_a_dispatcher_closes_a_resolved_fault(cast, net, now):
    fault = fault_confirm(fault=suspected(cast, net, now), by=cast.dispatcher, now=now).fault
    with pytest.raises(InvalidState):
        fault_close(fault=fault, by=cast.dispatcher, now=now)
    fault = fault_resolve(fault=fault, by=cast.lead, public_reply="已恢复", now=now).fault
    with pytest.raises(NotAllowed):
        fault_close(fault=fault, by=cast.lead, now=now)
    assert fault_close(fault=fault, by=cast.dispatcher, now=now).state == FaultState.CLOSED


def test_every_audit_row_is_published_and_versions_move(cast, net, now, heard):
    fault = suspected(cast, net, now)
    v = fault.version
    fault = fault_confirm(fault=fault, by=cast.dispatcher, now=now).fault
    assert fault.version > v
    rows = []
    for k, p in heard:
        if k == events.FAULT:
            rows.append(p["audit"])
        elif k == events.FAULT_BATCH:
            rows += [audit for _fault, audit in p["items"]]
    assert [a.transition for a in rows] == ["detect", "confirm"]
    assert {a.pk for a in rows} == set(FaultAudit.objects.values_list("pk", flat=True))


def test_each_eta_change_reaches_every_linked_customer_by_sms_once(cast, net, now, settings):
    """Given a confirmed fault, when its ETA is set and then changed, then every linked
    customer with a mobile number gets one text per change, carrying the fault's message and
    their own status link; setting the same ETA again sends nothing."""
    from notifications.models import Delivery
    from notifications.sms_channel import is_mobile

    settings.SMS_COALESCE_SECONDS = 0  # each event its own text, so each change is countable
    fault = fault_confirm(fault=suspected(cast, net, now), by=cast.dispatcher, now=now).fault
    mobiles = {link.ticket_id for link in children(fault) if is_mobile(link.ticket.customer_phone)}
    assert mobiles

    def texts():
        return Delivery.objects.filter(channel="sms", kind="fault_eta")

    eta1 = now + timedelta(hours=2)
    fault_set_eta(fault=fault, by=cast.dispatcher, eta=eta1, message="基站抢修中", now=now)
    assert sorted(texts().values_list("ticket_id", flat=True)) == sorted(mobiles)
    assert all("基站抢修中" in d.payload["text"] and "/s/" in d.payload["text"] for d in texts())

    fault_set_eta(fault=fault, by=cast.dispatcher, eta=eta1, message="基站抢修中", now=now)
    assert texts().count() == len(mobiles)

    fault_set_eta(
        fault=fault, by=cast.lead, eta=now + timedelta(hours=3), message="光缆中断", now=now
    )
    assert texts().count() == 2 * len(mobiles)
    assert sum("光缆中断" in d.payload["text"] for d in texts()) == len(mobiles)
