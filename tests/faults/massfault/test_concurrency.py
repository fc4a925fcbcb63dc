"""Races on PostgreSQL with real concurrent actors (threads released by one barrier): two
detection runs, two dispatchers confirming, two leads resolving. One wins each time.

SQLite serialises writers, so these races exist — and can be tested — on PostgreSQL only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faults.detection import fault_detect
from faults.models import Fault, FaultAudit, FaultLink, FaultState
from faults.services import fault_confirm, fault_resolve
from tests.conftest import requires_postgres
from tests.factories import user_with
from tests.workorders.test_concurrency import run_at_once
from workorders import services as orders
from workorders.errors import InvalidState
from workorders.models import AuditEntry, State

from .conftest import orders_near

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_two_detection_runs_at_once_make_one_fault(cast, net, now):
    tickets = orders_near(cast, net.coverage, n=6, now=now)
    results, errors = run_at_once([lambda: fault_detect(now=now), lambda: fault_detect(now=now)])
    assert errors == []
    assert Fault.objects.count() == 1
    assert sum(len(r.created) for r in results) == 1
    # The loser skipped (advisory lock) or found the orders already linked; either way each
    # order has exactly one link and the fault one `detect` row.
    assert FaultLink.objects.count() == len(tickets)
    assert FaultAudit.objects.filter(transition="detect").count() == 1


def test_two_dispatchers_confirm_at_once_one_wins(cast, net, now):
    orders_near(cast, net.coverage, n=5, now=now)
    fault_detect(now=now)
    other = user_with("dispatcher", department=cast.business, username="t_disp2")
    copy_a, copy_b = Fault.objects.get(), Fault.objects.get()  # two open browser tabs
    results, errors = run_at_once(
        [
            lambda: fault_confirm(fault=copy_a, by=cast.dispatcher, now=now),
            lambda: fault_confirm(fault=copy_b, by=other, now=now),
        ]
    )
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], InvalidState), errors
    fault = Fault.objects.get()
    assert fault.state == FaultState.CONFIRMED
    assert fault.confirmed_by == results[0].fault.confirmed_by
    assert FaultAudit.objects.filter(transition="confirm").count() == 1
    # Each child dispatched exactly once.
    for link in fault.links.all():
        assert AuditEntry.objects.filter(ticket=link.ticket, transition="dispatch").count() == 1


def test_two_leads_resolve_at_once_one_wins_and_each_child_is_replied_once(cast, net, now):
    orders_near(cast, net.coverage, n=5, now=now)
    fault_detect(now=now)
    fault = fault_confirm(fault=Fault.objects.get(), by=cast.dispatcher, now=now).fault
    for link in fault.links.select_related("ticket"):
        orders.ticket_claim(ticket=link.ticket, by=cast.lead, handler=cast.handler, now=now)
    second = user_with("lead", department=cast.network, username="t_lead2")
    at = now + timedelta(minutes=10)
    copy_a, copy_b = Fault.objects.get(), Fault.objects.get()
    results, errors = run_at_once(
        [
            lambda: fault_resolve(fault=copy_a, by=cast.lead, public_reply="已恢复", now=at),
            lambda: fault_resolve(fault=copy_b, by=second, public_reply="已恢复。", now=at),
        ]
    )
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], InvalidState), errors
    winner = results[0].fault.resolved_by
    assert FaultAudit.objects.filter(transition="resolve").count() == 1
    for link in fault.links.select_related("ticket"):
        link.ticket.refresh_from_db()
        assert link.ticket.state == State.REPLIED
        replies = AuditEntry.objects.filter(ticket=link.ticket, transition="reply")
        assert replies.count() == 1 and replies.get().actor == winner
