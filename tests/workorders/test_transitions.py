"""Transitions beyond the matrix: scope refusals, the system actor, return rulings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ticket_in_state, user_with
from workorders import services
from workorders.errors import InvalidState, NotAllowed
from workorders.models import AuditEntry, State, Ticket

from .test_transition_matrix import STATES

# --- scope: the right role outside its scope is refused -------------------------------------


def test_lead_of_another_department_may_not_claim(cast):
    ticket = ticket_in_state(cast, State.DISPATCHED)
    with pytest.raises(NotAllowed):
        services.ticket_claim(ticket=ticket, by=cast.other_lead)
    assert Ticket.objects.get(pk=ticket.pk).state == State.DISPATCHED


def test_lead_of_another_department_may_not_request_return_or_suspend(cast):
    ticket = ticket_in_state(cast, State.ACCEPTED)
    with pytest.raises(NotAllowed):
        services.ticket_request_return(ticket=ticket, by=cast.other_lead, reason="不属本部门")
    with pytest.raises(NotAllowed):
        services.ticket_suspend(
            ticket=ticket,
            by=cast.other_lead,
            reason="appointment",
            until=timezone.now() + timedelta(hours=2),
        )
    assert Ticket.objects.get(pk=ticket.pk).state == State.ACCEPTED


def test_handler_not_assigned_may_not_reply(cast):
    other_handler = user_with("handler", department=cast.network, username="t_handler2")
    ticket = ticket_in_state(cast, State.ACCEPTED)
    with pytest.raises(NotAllowed):
        services.ticket_reply(
            ticket=ticket, by=other_handler, result="已处理", cause="network", resolved=True
        )
    assert Ticket.objects.get(pk=ticket.pk).state == State.ACCEPTED


def test_frontline_who_did_not_report_may_not_close(cast):
    ticket = ticket_in_state(cast, State.REPLIED)
    with pytest.raises(NotAllowed):
        services.ticket_close(
            ticket=ticket,
            by=cast.other_frontline,
            outcome="success",
            resolved=True,
            satisfaction="satisfied",
        )
    assert Ticket.objects.get(pk=ticket.pk).state == State.REPLIED


def test_handler_of_the_department_may_claim_and_becomes_handler(cast):
    ticket = ticket_in_state(cast, State.DISPATCHED)
    services.ticket_claim(ticket=ticket, by=cast.handler)
    ticket.refresh_from_db()
    assert ticket.state == State.ACCEPTED
    assert ticket.handler_id == cast.handler.pk


def test_system_may_take_only_system_transitions(cast):
    """The system (by=None) dispatches by routing rule and resumes at the until-time."""
    ticket = ticket_in_state(cast, State.REPORTED)
    with pytest.raises(NotAllowed):
        services.ticket_cancel(ticket=ticket, by=None, reason="x")
    services.ticket_dispatch(ticket=ticket, by=None, department=cast.network)
    entry = AuditEntry.objects.filter(ticket=ticket).latest("id")
    assert (entry.transition, entry.actor_id, entry.actor_role) == ("dispatch", None, "system")

    suspended = ticket_in_state(cast, State.SUSPENDED)
    services.ticket_resume(ticket=suspended, by=None)
    assert Ticket.objects.get(pk=suspended.pk).state == State.ACCEPTED


def test_rule_return_uphold_sends_to_new_department(cast):
    ticket = ticket_in_state(cast, State.RETURN_REQUESTED)
    services.ticket_rule_return(
        ticket=ticket, by=cast.dispatcher, uphold=True, department=cast.business
    )
    ticket.refresh_from_db()
    assert (ticket.state, ticket.department_id, ticket.last_return_ruling) == (
        State.DISPATCHED,
        cast.business.pk,
        "upheld",
    )
    assert ticket.return_rejected_count == 0


def test_rule_return_reject_keeps_department_and_counts_against_it(cast):
    ticket = ticket_in_state(cast, State.RETURN_REQUESTED)
    services.ticket_rule_return(ticket=ticket, by=cast.dispatcher, uphold=False, comment="属本部门")
    ticket.refresh_from_db()
    assert (ticket.state, ticket.department_id, ticket.last_return_ruling) == (
        State.DISPATCHED,
        cast.network.pk,
        "rejected",
    )
    assert ticket.return_rejected_count == 1


@pytest.mark.parametrize("uphold", [True, False])
@pytest.mark.parametrize("state", [s for s in STATES if s != "return_requested"])
def test_rule_return_in_wrong_state_is_a_clean_invalid_state(cast, state, uphold):
    ticket = ticket_in_state(cast, state)
    with pytest.raises(InvalidState):
        services.ticket_rule_return(
            ticket=ticket,
            by=cast.dispatcher,
            uphold=uphold,
            department=cast.business if uphold else None,
            comment="裁定",
        )
    assert Ticket.objects.get(pk=ticket.pk).state == state


EMPTY_INPUT = {
    "dispatch": lambda c, t: services.ticket_dispatch(ticket=t, by=c.dispatcher, department=None),
    "redispatch": lambda c, t: services.ticket_redispatch(
        ticket=t, by=c.dispatcher, department=None, reason=""
    ),
    "claim": lambda c, t: services.ticket_claim(ticket=t, by=c.lead, handler=c.other_lead),
    "request_return": lambda c, t: services.ticket_request_return(ticket=t, by=c.lead, reason=""),
    "rule_return": lambda c, t: services.ticket_rule_return(
        ticket=t, by=c.dispatcher, uphold=True, department=None
    ),
    "suspend": lambda c, t: services.ticket_suspend(ticket=t, by=c.lead, reason="", until=None),
    "reply": lambda c, t: services.ticket_reply(
        ticket=t, by=c.lead, result="", cause="", resolved=None
    ),
    "reject_reply": lambda c, t: services.ticket_reject_reply(ticket=t, by=c.dispatcher, reason=""),
    "close": lambda c, t: services.ticket_close(ticket=t, by=c.dispatcher, outcome=""),
    "cancel": lambda c, t: services.ticket_cancel(ticket=t, by=c.dispatcher, reason=""),
}


@pytest.mark.parametrize("transition", sorted(EMPTY_INPUT))
def test_wrong_state_is_reported_before_bad_input(cast, transition):
    """On a closed order nothing is possible: say so, rather than ask for a missing reason that
    would not help."""
    ticket = ticket_in_state(cast, State.CLOSED)
    with pytest.raises(InvalidState):
        EMPTY_INPUT[transition](cast, ticket)
    assert Ticket.objects.get(pk=ticket.pk).state == State.CLOSED


def test_a_handler_claims_for_themself_only(cast):
    """Naming someone else's handler is assigning, which is the lead's (DESIGN §1)."""
    colleague = user_with("handler", department=cast.network, username="t_handler3")
    ticket = ticket_in_state(cast, State.DISPATCHED)
    with pytest.raises(NotAllowed):
        services.ticket_claim(ticket=ticket, by=cast.handler, handler=colleague)
    assert Ticket.objects.get(pk=ticket.pk).state == State.DISPATCHED
    services.ticket_claim(ticket=ticket, by=cast.lead, handler=colleague)
    assert Ticket.objects.get(pk=ticket.pk).handler_id == colleague.pk
