"""监管申诉: the regulator track. Orders of the regulator channel, or marked 申诉 afterwards,
run the statutory clock (its target and reminders from the rule matrix) and close only after
a supervisor's sign-off of the reply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sla import reference
from sla.engine import sla_sweep
from sla.models import Clock, ClockKind, SlaEvent, SlaPolicy
from tests.factories import report, ticket_in_state
from workorders import services
from workorders.errors import InvalidState, NotAllowed
from workorders.models import AuditEntry, Channel, State, VisitOutcome

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


def regulator_clock(ticket):
    return Clock.objects.get(ticket=ticket, kind=ClockKind.REGULATOR)


def close(ticket, by, now):
    return services.ticket_close(
        ticket=ticket,
        by=by,
        outcome=VisitOutcome.SUCCESS,
        resolved=True,
        satisfaction="satisfied",
        now=now,
    )


def test_regulator_channel_order_runs_the_statutory_clock_from_the_report(cast):
    t = report(cast, by=cast.dispatcher, channel=Channel.REGULATOR, now=T0)
    assert t.is_regulator and t.regulator_marked_at is None
    clock = regulator_clock(t)
    assert clock.started_at == T0
    assert clock.due_at == T0 + timedelta(days=3)  # the seeded fallback rule, general


def test_other_channels_run_no_statutory_clock(cast):
    t = report(cast, now=T0)
    assert not t.is_regulator
    assert not Clock.objects.filter(ticket=t, kind=ClockKind.REGULATOR).exists()


def test_statutory_target_is_configurable_in_the_rule_matrix(cast):
    SlaPolicy.objects.filter(kind=ClockKind.REGULATOR, urgency="general").update(
        target_minutes=5 * 24 * 60
    )
    reference.clear()
    t = report(cast, by=cast.dispatcher, channel=Channel.REGULATOR, now=T0)
    assert regulator_clock(t).due_at == T0 + timedelta(days=5)


def test_statutory_clock_has_its_own_reminders(cast):
    t = report(cast, by=cast.dispatcher, channel=Channel.REGULATOR, now=T0)
    clock = regulator_clock(t)
    target = timedelta(days=3)
    sla_sweep(now=T0 + target * 0.3 - timedelta(seconds=1))
    assert not SlaEvent.objects.filter(clock=clock).exists()
    sla_sweep(now=T0 + target * 0.3)
    assert list(SlaEvent.objects.filter(clock=clock).values_list("level", "kind")) == [
        (1, "remind")
    ]


def test_dispatcher_marks_an_order_afterwards_and_the_clock_starts_then(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    later = T0 + timedelta(hours=2)
    services.ticket_mark_regulator(
        ticket=t, by=cast.dispatcher, reason="客户已申诉至工信部", now=later
    )
    t.refresh_from_db()
    assert t.is_regulator and t.regulator_marked_at == later
    assert regulator_clock(t).started_at == later
    assert AuditEntry.objects.filter(ticket=t, transition="mark_regulator").count() == 1
    with pytest.raises(InvalidState):
        services.ticket_mark_regulator(ticket=t, by=cast.supervisor, reason="再次", now=later)
    assert Clock.objects.filter(ticket=t, kind=ClockKind.REGULATOR).count() == 1


@pytest.mark.parametrize("role", ["frontline", "lead", "handler", "auditor"])
def test_only_dispatcher_and_supervisor_may_mark(cast, role):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    with pytest.raises(NotAllowed):
        services.ticket_mark_regulator(ticket=t, by=cast.by_role(role), reason="申诉")
    t.refresh_from_db()
    assert not t.is_regulator


def test_a_regulator_order_closes_only_after_a_supervisor_sign_off(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_mark_regulator(ticket=t, by=cast.dispatcher, reason="申诉", now=T0)
    now = T0 + timedelta(hours=1)
    with pytest.raises(InvalidState):
        close(t, cast.dispatcher, now)
    t.refresh_from_db()
    assert t.state == State.REPLIED

    with pytest.raises(NotAllowed):
        services.ticket_regulator_signoff(ticket=t, by=cast.dispatcher, now=now)
    services.ticket_regulator_signoff(ticket=t, by=cast.supervisor, note="同意回复", now=now)
    assert t.regulator_signed_off_by == cast.supervisor
    assert AuditEntry.objects.get(ticket=t, transition="regulator_signoff").actor_role == (
        "supervisor"
    )
    close(t, cast.dispatcher, now + timedelta(minutes=5))
    t.refresh_from_db()
    assert t.state == State.CLOSED
    clock = regulator_clock(t)
    assert clock.stopped_at == now + timedelta(minutes=5) and clock.outcome == "met"


def test_sign_off_needs_a_reply_and_a_rejected_reply_voids_it(cast):
    t = report(cast, by=cast.dispatcher, channel=Channel.REGULATOR, now=T0)
    with pytest.raises(InvalidState):
        services.ticket_regulator_signoff(ticket=t, by=cast.supervisor)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=T0)
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=T0)
    services.ticket_reply(
        ticket=t, by=cast.handler, result="已处理", cause="network", resolved=True, now=T0
    )
    services.ticket_regulator_signoff(ticket=t, by=cast.supervisor, now=T0)
    services.ticket_reject_reply(ticket=t, by=cast.dispatcher, reason="回复不完整", now=T0)
    t.refresh_from_db()
    assert t.state == State.ACCEPTED and t.regulator_signed_off_at is None


def test_sign_off_is_only_for_regulator_orders(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    with pytest.raises(InvalidState):
        services.ticket_regulator_signoff(ticket=t, by=cast.supervisor)
    close(t, cast.dispatcher, T0 + timedelta(hours=1))  # ordinary orders close as before
