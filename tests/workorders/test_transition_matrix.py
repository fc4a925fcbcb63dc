"""The full transition matrix: every state × every transition × every role.

The expected outcome of each cell is built from the tables of DESIGN.md §1 and §3, written out
here by hand (not derived from `workorders.permissions`, so the test can disagree with the code):

- a role that DESIGN does not name for the transition → NotAllowed, whatever the state;
- a role that may take it, on an order in a state it does not start from → InvalidState;
- otherwise the transition succeeds, lands in the target state and writes one audit row.

The cast's lead and handler work in 网络保障, where `ticket_in_state` dispatches the order, the
handler is the one assigned at claim, and the frontline worker reported it — so every allowed
cell is also in scope; out-of-scope refusals are tested separately below.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.factories import Cast, ticket_in_state
from workorders import services
from workorders.errors import InvalidState, NotAllowed
from workorders.models import AuditEntry, State, Ticket

ROLES = ["frontline", "dispatcher", "lead", "handler", "supervisor", "auditor"]

# DESIGN.md §3: transition → (source states, target state, roles that may take it).
DESIGN = {
    "dispatch": ({"reported"}, "dispatched", {"dispatcher"}),
    "claim": ({"dispatched"}, "accepted", {"lead", "handler"}),
    "request_return": ({"dispatched", "accepted"}, "return_requested", {"lead"}),
    "rule_return": ({"return_requested"}, "dispatched", {"dispatcher"}),
    "redispatch": ({"dispatched", "accepted"}, "dispatched", {"dispatcher"}),
    "suspend": ({"accepted"}, "suspended", {"lead", "supervisor"}),
    "resume": ({"suspended"}, "accepted", {"lead", "handler"}),
    "reply": ({"accepted"}, "replied", {"handler", "lead"}),
    "reject_reply": ({"replied"}, "accepted", {"dispatcher"}),
    "close": ({"replied"}, "closed", {"dispatcher", "frontline"}),
    "redo": ({"replied"}, "accepted", {"supervisor"}),
    "cancel": ({"reported", "dispatched"}, "cancelled", {"dispatcher"}),
}
STATES = [
    "reported",
    "dispatched",
    "return_requested",
    "accepted",
    "suspended",
    "replied",
    "closed",
    "cancelled",
]


def expected(state: str, transition: str, role: str):
    sources, target, roles = DESIGN[transition]
    if role not in roles:
        return NotAllowed
    if state not in sources:
        return InvalidState
    return target


def test_design_tables_cover_every_state_and_transition():
    from workorders.permissions import TRANSITIONS

    assert set(STATES) == set(State.values)
    assert set(DESIGN) == set(TRANSITIONS)


def call(transition: str, ticket: Ticket, by, cast, now):
    """Run one transition through its service with valid input for that transition."""
    if transition == "dispatch":
        return services.ticket_dispatch(ticket=ticket, by=by, department=cast.network, now=now)
    if transition == "claim":
        return services.ticket_claim(ticket=ticket, by=by, now=now)
    if transition == "request_return":
        return services.ticket_request_return(ticket=ticket, by=by, reason="不属本部门", now=now)
    if transition == "rule_return":
        # Reject: back to the same department (the branch that reads ticket.department).
        return services.ticket_rule_return(
            ticket=ticket, by=by, uphold=False, comment="属于本部门职责", now=now
        )
    if transition == "redispatch":
        return services.ticket_redispatch(
            ticket=ticket, by=by, department=cast.business, reason="业务问题", now=now
        )
    if transition == "suspend":
        return services.ticket_suspend(
            ticket=ticket, by=by, reason="appointment", until=now + timedelta(hours=6), now=now
        )
    if transition == "resume":
        return services.ticket_resume(ticket=ticket, by=by, now=now)
    if transition == "reply":
        return services.ticket_reply(
            ticket=ticket, by=by, result="已处理", cause="network", resolved=True, now=now
        )
    if transition == "reject_reply":
        return services.ticket_reject_reply(ticket=ticket, by=by, reason="未联系客户", now=now)
    if transition == "close":
        return services.ticket_close(
            ticket=ticket,
            by=by,
            outcome="success",
            resolved=True,
            satisfaction="satisfied",
            now=now,
        )
    if transition == "redo":
        return services.ticket_redo(ticket=ticket, by=by, reason="客户不满意", now=now)
    if transition == "cancel":
        return services.ticket_cancel(ticket=ticket, by=by, reason="重复工单", now=now)
    raise AssertionError(transition)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The cast and one order per state, built once for the module inside a transaction that
    is rolled back at the end; each test runs in a savepoint inside it (pytest-django's
    per-test atomic), so every cell starts from the same untouched order."""
    with django_db_blocker.unblock(), transaction.atomic():
        cast = Cast()
        t0 = timezone.now() - timedelta(hours=1)
        tickets = {state: ticket_in_state(cast, state, now=t0).pk for state in STATES}
        yield cast, tickets
        transaction.set_rollback(True)


CASES = [(s, t, r) for s in STATES for t in DESIGN for r in ROLES]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "transition", "role"), CASES, ids=[f"{s}-{t}-{r}" for s, t, r in CASES]
)
def test_matrix(world, state, transition, role):
    cast, tickets = world
    ticket = Ticket.objects.get(pk=tickets[state])
    assert ticket.state == state
    if transition == "redo" and state == State.REPLIED:
        # DESIGN: the dispatcher proposes a redo on an unsatisfied visit; the supervisor confirms.
        services.ticket_propose_redo(ticket=ticket, by=cast.dispatcher, reason="客户不满意")
    audit_before = AuditEntry.objects.filter(ticket=ticket).count()
    want = expected(state, transition, role)
    now = timezone.now()
    actor = cast.by_role(role)

    if isinstance(want, type):
        with pytest.raises(want):
            call(transition, ticket, actor, cast, now)
        fresh = Ticket.objects.get(pk=ticket.pk)
        assert (fresh.state, fresh.version) == (state, ticket.version)
        assert AuditEntry.objects.filter(ticket=ticket).count() == audit_before
    else:
        call(transition, ticket, actor, cast, now)
        fresh = Ticket.objects.get(pk=ticket.pk)
        assert fresh.state == want
        rows = AuditEntry.objects.filter(ticket=ticket).order_by("id")[audit_before:]
        assert [(a.transition, a.source, a.target, a.actor_id, a.actor_role) for a in rows] == [
            (transition, state, want, actor.pk, role)
        ]


STATE_ROLE = [(s, r) for s in STATES for r in ROLES]


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "role"), STATE_ROLE, ids=[f"{s}-{r}" for s, r in STATE_ROLE])
def test_offered_transitions_match_design(world, state, role):
    """What the UI offers (the FSM's permission callables) is exactly the DESIGN cell."""
    from workorders.selectors import allowed_transitions

    cast, tickets = world
    ticket = Ticket.objects.get(pk=tickets[state])
    want = {t for t in DESIGN if expected(state, t, role) == DESIGN[t][1]}
    assert set(allowed_transitions(cast.by_role(role), ticket)) == want
