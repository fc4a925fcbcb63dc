"""Records on an order that are not states: chases, suspension and extension requests, visits
and redo proposals, co-handling, assignment."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import CategoryFactory, report, ticket_in_state, user_with
from workorders import services
from workorders.errors import Invalid, InvalidState, NotAllowed, RateLimited
from workorders.models import (
    AuditEntry,
    Chase,
    CoHandling,
    RedoProposal,
    State,
    SuspensionRequest,
    Ticket,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)
M = timedelta(minutes=1)


# --- chase (催办): at most once per 10 minutes an order ---------------------------------------


def test_chase_at_most_once_per_ten_minutes(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    services.ticket_chase(ticket=t, by=cast.frontline, note="客户又来电", now=T0 + H)
    with pytest.raises(RateLimited):
        services.ticket_chase(ticket=t, by=cast.dispatcher, now=T0 + H + 9 * M)
    services.ticket_chase(ticket=t, by=cast.frontline, now=T0 + H + 10 * M)
    assert Chase.objects.filter(ticket=t).count() == 2
    assert Ticket.objects.get(pk=t.pk).chase_count == 2


def test_only_the_reporter_among_frontline_may_chase(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    with pytest.raises(NotAllowed):
        services.ticket_chase(ticket=t, by=cast.other_frontline, now=T0 + H)
    with pytest.raises(NotAllowed):
        services.ticket_chase(ticket=t, by=cast.auditor, now=T0 + H)


@pytest.mark.parametrize("state", [State.REPLIED, State.CLOSED, State.CANCELLED])
def test_no_chase_once_replied_or_finished(cast, state):
    t = ticket_in_state(cast, state, now=T0)
    with pytest.raises(InvalidState):
        services.ticket_chase(ticket=t, by=cast.frontline, now=T0 + H)
    assert not Chase.objects.filter(ticket=t).exists()


# --- suspension requests ----------------------------------------------------------------------


def test_handler_requests_suspension_and_the_lead_approves(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    req = services.ticket_request_suspension(
        ticket=t, by=cast.handler, reason="unreachable", until=T0 + 8 * H, now=T0 + H
    )
    assert Ticket.objects.get(pk=t.pk).state == State.ACCEPTED  # a request changes nothing
    with pytest.raises(NotAllowed):
        services.ticket_approve_suspension(request=req, by=cast.handler, now=T0 + 2 * H)
    services.ticket_approve_suspension(request=req, by=cast.lead, now=T0 + 2 * H)
    t.refresh_from_db()
    assert (t.state, t.suspended_until) == (State.SUSPENDED, T0 + 8 * H)
    req.refresh_from_db()
    assert (req.status, req.decided_by_id) == ("approved", cast.lead.pk)
    with pytest.raises(InvalidState):  # already decided
        services.ticket_approve_suspension(request=req, by=cast.lead, now=T0 + 3 * H)


def test_refused_suspension_leaves_the_order_running(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    req = services.ticket_request_suspension(
        ticket=t, by=cast.handler, reason="appointment", until=T0 + 8 * H, now=T0 + H
    )
    services.ticket_refuse_suspension(
        request=req, by=cast.supervisor, note="可先处理", now=T0 + 2 * H
    )
    assert SuspensionRequest.objects.get(pk=req.pk).status == "refused"
    assert Ticket.objects.get(pk=t.pk).state == State.ACCEPTED


@pytest.mark.parametrize("note", ["", "   "])
def test_a_refusal_without_a_reason_is_refused_and_the_request_stays_pending(cast, note):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    sus = services.ticket_request_suspension(
        ticket=t, by=cast.handler, reason="appointment", until=T0 + 8 * H, now=T0 + H
    )
    with pytest.raises(Invalid) as exc:
        services.ticket_refuse_suspension(request=sus, by=cast.supervisor, note=note)
    assert "note" in exc.value.fields
    ext = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=8, reason="等配件", now=T0 + H
    )
    with pytest.raises(Invalid) as exc:
        services.ticket_decide_extension(
            request=ext, by=cast.supervisor, approve=False, note=note, now=T0 + 2 * H
        )
    assert "note" in exc.value.fields
    assert {r.status for r in (sus, ext) for r in [type(r).objects.get(pk=r.pk)]} == {"pending"}
    # Approving needs no reason.
    services.ticket_decide_extension(request=ext, by=cast.supervisor, approve=True, now=T0 + 2 * H)


@pytest.mark.parametrize(
    ("reason", "until", "field"),
    [
        ("weather", T0 + 5 * H, "reason"),  # not a customer-side reason
        ("appointment", None, "until"),
        ("appointment", T0, "until"),  # not in the future
        ("appointment", T0 + 31 * 24 * H, "until"),  # more than 30 days
    ],
)
def test_bad_suspension_input(cast, reason, until, field):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0 - H)
    with pytest.raises(Invalid) as info:
        services.ticket_suspend(ticket=t, by=cast.lead, reason=reason, until=until, now=T0)
    assert field in info.value.fields
    assert Ticket.objects.get(pk=t.pk).state == State.ACCEPTED


# --- extensions -------------------------------------------------------------------------------


def test_no_extension_request_after_the_due_time(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    with pytest.raises(InvalidState):
        services.ticket_request_extension(
            ticket=t, by=cast.handler, hours=4, reason="等料", now=T0 + 49 * H
        )


def test_one_pending_extension_at_a_time_and_a_reason_required(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    with pytest.raises(Invalid):
        services.ticket_request_extension(ticket=t, by=cast.handler, hours=4, reason=" ", now=T0)
    with pytest.raises(Invalid):
        services.ticket_request_extension(ticket=t, by=cast.handler, hours=0, reason="x", now=T0)
    services.ticket_request_extension(ticket=t, by=cast.handler, hours=4, reason="等料", now=T0)
    with pytest.raises(Invalid):
        services.ticket_request_extension(ticket=t, by=cast.lead, hours=4, reason="等料", now=T0)


def test_lead_approves_only_own_staffs_extension(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=4, reason="等料", now=T0 + H
    )
    with pytest.raises(NotAllowed):
        services.ticket_decide_extension(request=req, by=cast.other_lead, approve=True, now=T0 + H)
    services.ticket_decide_extension(request=req, by=cast.lead, approve=True, now=T0 + 2 * H)
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 52 * H


# --- visit, redo proposals --------------------------------------------------------------------


def test_unsatisfied_visit_proposes_a_redo_and_declining_closes(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_visit(
        ticket=t,
        by=cast.dispatcher,
        outcome="success",
        resolved=False,
        satisfaction="unsatisfied",
        note="仍然掉线",
        now=T0 + H,
    )
    assert Ticket.objects.get(pk=t.pk).state == State.REPLIED
    proposal = RedoProposal.objects.get(ticket=t)
    assert (proposal.status, proposal.visit_satisfaction) == ("pending", "unsatisfied")
    services.ticket_decline_redo(ticket=t, by=cast.supervisor, now=T0 + 2 * H)
    t.refresh_from_db()
    assert (t.state, t.visit_resolved, t.visit_satisfaction) == (
        State.CLOSED,
        False,
        "unsatisfied",
    )
    assert RedoProposal.objects.get(pk=proposal.pk).status == "refused"
    # The supervisor's decision is on record, then the close under the visitor's name.
    rows = AuditEntry.objects.filter(ticket=t, at__gte=T0 + H).order_by("id")
    assert [(a.transition, a.actor_id, a.actor_role) for a in rows] == [
        ("propose_redo", cast.dispatcher.pk, "dispatcher"),
        ("decline_redo", cast.supervisor.pk, "supervisor"),
        ("close", cast.dispatcher.pk, "dispatcher"),
    ]


def test_satisfied_visit_closes(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_visit(
        ticket=t, by=cast.frontline, outcome="success", resolved=True, satisfaction="basically"
    )
    assert Ticket.objects.get(pk=t.pk).state == State.CLOSED


def test_unreachable_visit_closes_without_a_verdict(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_close(
        ticket=t, by=cast.dispatcher, outcome="unreachable", resolved=True, satisfaction="satisfied"
    )
    t.refresh_from_db()
    assert (t.state, t.visit_outcome, t.visit_resolved, t.visit_satisfaction) == (
        State.CLOSED,
        "unreachable",
        None,
        "",
    )


def test_successful_visit_needs_the_verdict(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    with pytest.raises(Invalid) as info:
        services.ticket_close(ticket=t, by=cast.dispatcher, outcome="success")
    assert set(info.value.fields) == {"resolved", "satisfaction"}
    assert Ticket.objects.get(pk=t.pk).state == State.REPLIED


def test_reject_reply_drops_a_pending_redo_proposal(cast):
    """A redo proposal belongs to the reply it judged; after the reply is rejected and the
    department replies again, the new reply gets its own visit and proposal."""
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_propose_redo(ticket=t, by=cast.dispatcher, reason="不满意", now=T0 + H)
    services.ticket_reject_reply(ticket=t, by=cast.dispatcher, reason="回复不实", now=T0 + 2 * H)
    assert RedoProposal.objects.get(ticket=t).status == "refused"
    services.ticket_reply(
        ticket=t, by=cast.handler, result="再次处理", cause="network", resolved=True, now=T0 + 3 * H
    )
    services.ticket_propose_redo(ticket=t, by=cast.dispatcher, reason="仍不满意", now=T0 + 4 * H)
    assert RedoProposal.objects.filter(ticket=t, status="pending").count() == 1


# --- dispatch with co-handling, assignment ------------------------------------------------------


def test_dispatch_with_co_handling_departments(cast):
    t = report(cast, now=T0)
    services.ticket_dispatch(
        ticket=t,
        by=cast.dispatcher,
        department=cast.network,
        co_departments=[cast.business, cast.network],
        now=T0 + M,
    )
    # The responsible department is not its own co-handler.
    assert list(CoHandling.objects.filter(ticket=t).values_list("department", flat=True)) == [
        cast.business.pk
    ]
    from workorders.selectors import tickets_visible_to

    assert t in tickets_visible_to(cast.other_lead)  # the co-handling department sees it


def test_lead_assigns_a_handler_of_the_department_only(cast):
    t = ticket_in_state(cast, State.DISPATCHED, now=T0)
    outsider = user_with("handler", department=cast.business, username="t_biz_handler")
    with pytest.raises(Invalid):
        services.ticket_assign(ticket=t, by=cast.lead, handler=outsider)
    services.ticket_assign(ticket=t, by=cast.lead, handler=cast.handler, now=T0 + H)
    assert Ticket.objects.get(pk=t.pk).handler_id == cast.handler.pk
    row = AuditEntry.objects.filter(ticket=t).latest("id")
    assert (row.transition, row.actor_id, row.actor_role) == ("assign", cast.lead.pk, "lead")


def test_routing_to_an_inactive_department_leaves_the_order_for_a_dispatcher(cast):
    """A stale routing rule must not make reporting fail: the report is kept, undispatched."""
    closed_team = type(cast.network).objects.create(
        name="撤销班组", code="t_closed", kind="team", parent=cast.network, is_active=False
    )
    cat = CategoryFactory(code="t_routed", default_department=closed_team, auto_dispatch=True)
    t = report(cast, now=T0, category=cat)
    t.refresh_from_db()
    assert (t.state, t.department_id) == (State.REPORTED, None)


def test_extension_may_be_requested_while_suspended_past_the_stored_due(cast):
    """While suspended the promise is frozen: at T0+60h, 38 h are still left (due T0+48h is
    only moved at resume), so the request is before the due time."""
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    services.ticket_suspend(
        ticket=t, by=cast.lead, reason="appointment", until=T0 + 70 * H, now=T0 + 10 * H
    )
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=24, reason="客户出差", now=T0 + 60 * H
    )
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True, now=T0 + 61 * H)
    services.ticket_resume(ticket=t, by=cast.handler, now=T0 + 62 * H)
    # 48 h + 52 h paused + 24 h extension.
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 124 * H
