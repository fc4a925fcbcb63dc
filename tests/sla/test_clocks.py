"""The four clocks of DESIGN.md §4, driven through the services with explicit `now=` instants."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.models import Clock, ClockKind
from tests.factories import report, ticket_in_state
from workorders import services
from workorders.models import AuditEntry, State, Ticket

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)
M = timedelta(minutes=1)


def clock(ticket, kind) -> Clock:
    """The ticket's one live (not voided) clock of this kind, freshly read."""
    return Clock.objects.get(ticket=ticket, kind=kind, voided=False)


def promise(ticket) -> Clock:
    return clock(ticket, ClockKind.PROMISE)


def accepted(cast, *, category=None, at=T0) -> Ticket:
    t = report(cast, now=at, category=category)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=at + M)
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=at + 2 * M)
    return t


def reply(cast, t, at):
    return services.ticket_reply(
        ticket=t, by=cast.handler, result="已处理", cause="network", resolved=True, now=at
    )


# --- due times --------------------------------------------------------------------------------


def test_general_order_promise_is_48h_and_dispatch_2h(cast):
    t = report(cast, now=T0)
    assert promise(t).due_at == T0 + 48 * H
    assert promise(t).original_due_at == T0 + 48 * H
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 48 * H
    assert clock(t, ClockKind.DISPATCH).due_at == T0 + 2 * H


def test_urgent_category_promise_is_4h_and_dispatch_15min(cast):
    t = report(cast, now=T0, category=cast.urgent_category)
    assert t.urgency == "urgent"
    assert promise(t).due_at == T0 + 4 * H
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 4 * H
    assert clock(t, ClockKind.DISPATCH).due_at == T0 + 15 * M


@pytest.mark.parametrize(
    ("urgent", "sign_for", "visit"), [(False, 2 * H, 24 * H), (True, 30 * M, 4 * H)]
)
def test_sign_for_and_visit_clocks(cast, urgent, sign_for, visit):
    t = accepted(cast, category=cast.urgent_category if urgent else cast.category)
    s = clock(t, ClockKind.SIGN_FOR)
    assert (s.started_at, s.due_at, s.department_id) == (T0 + M, T0 + M + sign_for, cast.network.pk)
    assert s.stopped_at == T0 + 2 * M and s.outcome == "met"
    d = clock(t, ClockKind.DISPATCH)
    assert (d.stopped_at, d.outcome) == (T0 + M, "met")
    reply(cast, t, T0 + H)
    v = clock(t, ClockKind.VISIT)
    assert (v.started_at, v.due_at) == (T0 + H, T0 + H + visit)
    p = promise(t)
    assert (p.stopped_at, p.outcome) == (T0 + H, "met")


def test_late_dispatch_misses_the_dispatch_clock(cast):
    t = report(cast, now=T0)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=T0 + 3 * H)
    assert clock(t, ClockKind.DISPATCH).outcome == "missed"


# --- suspend / resume ---------------------------------------------------------------------------


def test_suspend_resume_moves_due_by_exactly_the_paused_span(cast):
    t = accepted(cast)
    services.ticket_suspend(
        ticket=t, by=cast.lead, reason="appointment", until=T0 + 10 * H, now=T0 + H
    )
    p = promise(t)
    assert p.paused_at == T0 + H
    assert p.remaining_seconds(T0 + 30 * H) == 47 * 3600  # frozen while suspended
    services.ticket_resume(ticket=t, by=cast.handler, now=T0 + 6 * H + 17 * M)
    p = promise(t)
    span = 5 * H + 17 * M
    assert p.paused_at is None
    assert p.paused_seconds == span.total_seconds()
    assert p.due_at == T0 + 48 * H + span
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 48 * H + span


def test_two_suspensions_add_up(cast):
    t = accepted(cast)
    services.ticket_suspend(
        ticket=t, by=cast.lead, reason="unreachable", until=T0 + 5 * H, now=T0 + H
    )
    services.ticket_resume(ticket=t, by=cast.lead, now=T0 + 2 * H)
    services.ticket_suspend(
        ticket=t, by=cast.supervisor, reason="appointment", until=T0 + 9 * H, now=T0 + 3 * H
    )
    services.ticket_resume(ticket=t, by=None, now=T0 + 6 * H)
    p = promise(t)
    assert p.paused_seconds == 4 * 3600
    assert p.due_at == T0 + 52 * H
    assert Ticket.objects.get(pk=t.pk).suspension_count == 2


# --- reject_reply and redo ----------------------------------------------------------------------


def test_reject_reply_resumes_promise_with_wait_counted_as_paused(cast):
    t = accepted(cast)
    reply(cast, t, T0 + 10 * H)
    stopped = promise(t)
    assert (stopped.stopped_at, stopped.outcome) == (T0 + 10 * H, "met")
    services.ticket_reject_reply(ticket=t, by=cast.dispatcher, reason="未联系客户", now=T0 + 13 * H)
    p = promise(t)
    assert p.pk == stopped.pk  # the same clock runs on; the stop is void
    assert (p.stopped_at, p.outcome) == (None, "")
    assert p.due_at == T0 + 51 * H
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 51 * H
    assert not Clock.objects.filter(ticket=t, kind=ClockKind.VISIT, voided=False).exists()


def test_redo_resumes_promise_from_its_start(cast):
    t = accepted(cast)
    reply(cast, t, T0 + 10 * H)
    services.ticket_propose_redo(ticket=t, by=cast.dispatcher, reason="客户不满意", now=T0 + 11 * H)
    services.ticket_redo(ticket=t, by=cast.supervisor, now=T0 + 12 * H)
    t.refresh_from_db()
    assert (t.state, t.redo_count) == (State.ACCEPTED, 1)
    p = promise(t)
    assert (p.stopped_at, p.outcome, p.due_at) == (None, "", T0 + 48 * H)
    assert t.promise_due_at == T0 + 48 * H
    # Replying again after the original due time misses the promise.
    reply(cast, t, T0 + 49 * H)
    assert promise(t).outcome == "missed"


# --- extension ---------------------------------------------------------------------------------


def test_extension_moves_effective_but_not_original_due(cast):
    t = accepted(cast)
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=24, reason="需协调第三方施工", now=T0 + 2 * H
    )
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True, now=T0 + 3 * H)
    p = promise(t)
    assert p.due_at == T0 + 72 * H
    assert p.original_due_at == T0 + 48 * H
    t.refresh_from_db()
    assert (t.promise_due_at, t.extension_count) == (T0 + 72 * H, 1)
    # Met against the effective due, missed against the original.
    reply(cast, t, T0 + 50 * H)
    p = promise(t)
    assert (p.outcome, p.outcome_original) == ("met", "missed")


def test_refused_extension_moves_nothing(cast):
    t = accepted(cast)
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=24, reason="需协调", now=T0 + 2 * H
    )
    services.ticket_decide_extension(
        request=req, by=cast.supervisor, approve=False, note="先排查线路", now=T0 + 3 * H
    )
    assert promise(t).due_at == T0 + 48 * H


# --- urgency change -------------------------------------------------------------------------------


def test_urgency_change_recomputes_due_from_report_time_and_records_both(cast):
    t = report(cast, now=T0)
    services.ticket_change_urgency(
        ticket=t, by=cast.dispatcher, urgency="urgent", reason="客户断网影响营业", now=T0 + H
    )
    assert promise(t).due_at == T0 + 4 * H
    assert clock(t, ClockKind.DISPATCH).due_at == T0 + 15 * M
    fresh = Ticket.objects.get(pk=t.pk)
    assert (fresh.urgency, fresh.promise_due_at) == ("urgent", T0 + 4 * H)
    entry = AuditEntry.objects.get(ticket=t, transition="change_urgency")
    assert entry.data["from"] == "general" and entry.data["to"] == "urgent"
    old, new = (datetime.fromisoformat(v) for v in entry.data["due"]["promise"])
    assert (old, new) == (T0 + 48 * H, T0 + 4 * H)


def test_urgency_change_to_general_recomputes_from_report_time(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0, category=cast.urgent_category)
    services.ticket_change_urgency(
        ticket=t, by=cast.dispatcher, urgency="general", reason="客户已临时恢复", now=T0 + 3 * H
    )
    assert promise(t).due_at == T0 + 48 * H
    assert Ticket.objects.get(pk=t.pk).promise_due_at == T0 + 48 * H


def test_urgency_change_updates_the_derived_priority_flag(cast):
    """is_urgent is derived on save(); a save(update_fields=...) must not leave it stale."""
    t = report(cast, now=T0)
    other = report(cast, now=T0 + M, phone="13900139000")
    services.ticket_change_urgency(
        ticket=t, by=cast.dispatcher, urgency="urgent", reason="影响营业", now=T0 + H
    )
    assert Ticket.objects.get(pk=t.pk).is_urgent is True
    first = Ticket.objects.filter(pk__in=[t.pk, other.pk]).by_priority().first()
    assert first.pk == t.pk
    services.ticket_change_urgency(
        ticket=t, by=cast.dispatcher, urgency="general", reason="已恢复", now=T0 + 2 * H
    )
    assert Ticket.objects.get(pk=t.pk).is_urgent is False


def test_cancel_voids_every_clock(cast):
    t = ticket_in_state(cast, State.DISPATCHED, now=T0)
    services.ticket_cancel(ticket=t, by=cast.dispatcher, reason="重复", now=T0 + H)
    assert not Clock.objects.filter(ticket=t, voided=False, stopped_at__isnull=True).exists()
    # dispatch had stopped at dispatch (kept, met); promise and sign_for are voided.
    assert set(Clock.objects.filter(ticket=t, voided=True).values_list("kind", flat=True)) == {
        "promise",
        "sign_for",
    }
