"""`annotate_sla_status` (in SQL) against hand-computed status and remaining time.

A general order reported at T0 has its promise due at T0+48h; the at-risk mark is 80 % of the
target, T0+38h24m. Remaining is due − now (negative when overdue), frozen at the pause while
suspended, and null once the promise has stopped or was voided."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sla.models import SlaStatus
from sla.selectors import annotate_sla_status, filter_sla_status
from tests.factories import report, ticket_in_state
from workorders import services
from workorders.models import State, Ticket

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)


def status_at(ticket, now):
    row = annotate_sla_status(Ticket.objects.filter(pk=ticket.pk), now=now).get()
    remaining = None if row.sla_remaining is None else int(row.sla_remaining.total_seconds())
    return row.sla_status, remaining


@pytest.mark.parametrize(
    ("offset", "status", "remaining"),
    [
        (H, "on_track", 47 * 3600),
        (38 * H + 24 * M - S, "on_track", 9 * 3600 + 36 * 60 + 1),
        (38 * H + 24 * M, "at_risk", 9 * 3600 + 36 * 60),
        (40 * H, "at_risk", 8 * 3600),
        (48 * H, "at_risk", 0),
        (48 * H + S, "breached", -1),
        (50 * H, "breached", -2 * 3600),
    ],
)
def test_running_general_order(cast, offset, status, remaining):
    t = report(cast, now=T0)
    assert status_at(t, T0 + offset) == (status, remaining)
    # The index-friendly filter agrees with the annotation.
    assert list(filter_sla_status(Ticket.objects.all(), status, now=T0 + offset)) == [t]


@pytest.mark.parametrize(
    ("offset", "status", "remaining"),
    [
        (H, "on_track", 3 * 3600),
        (3 * H + 12 * M, "at_risk", 48 * 60),  # 80 % of 4 h
        (5 * H, "breached", -3600),
    ],
)
def test_running_urgent_order(cast, offset, status, remaining):
    t = report(cast, now=T0, category=cast.urgent_category)
    assert status_at(t, T0 + offset) == (status, remaining)


def _accepted(cast):
    t = report(cast, now=T0)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=T0 + M)
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=T0 + 2 * M)
    return t


def _reply(cast, t, at):
    services.ticket_reply(
        ticket=t, by=cast.handler, result="已处理", cause="network", resolved=True, now=at
    )


@pytest.mark.parametrize("later", [H, 100 * H])
def test_replied_in_time_is_met(cast, later):
    t = _accepted(cast)
    _reply(cast, t, T0 + 10 * H)
    assert status_at(t, T0 + 10 * H + later) == ("met", None)


def test_replied_late_is_missed(cast):
    t = _accepted(cast)
    _reply(cast, t, T0 + 50 * H)
    assert status_at(t, T0 + 51 * H) == ("missed", None)


def test_suspended_order_is_frozen_at_the_pause(cast):
    t = _accepted(cast)
    services.ticket_suspend(
        ticket=t, by=cast.lead, reason="appointment", until=T0 + 99 * H, now=T0 + 10 * H
    )
    # Long past the original due time, still on track with 38 h left.
    assert status_at(t, T0 + 60 * H) == ("on_track", 38 * 3600)
    services.ticket_resume(ticket=t, by=cast.lead, now=T0 + 60 * H)
    # Due moved by the 50 h pause: T0+98h.
    assert status_at(t, T0 + 61 * H) == ("on_track", 37 * 3600)
    assert status_at(t, T0 + 99 * H) == ("breached", -3600)


def test_extension_counts_in_remaining_and_at_risk_mark(cast):
    t = _accepted(cast)
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=12, reason="等待配件", now=T0 + H
    )
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True, now=T0 + 2 * H)
    # Due T0+60h; allowed 60 h, at-risk from 80 % = T0+48h.
    assert status_at(t, T0 + 47 * H) == ("on_track", 13 * 3600)
    assert status_at(t, T0 + 49 * H) == ("at_risk", 11 * 3600)
    assert status_at(t, T0 + 61 * H) == ("breached", -3600)


def test_cancelled_order_has_no_status(cast):
    t = report(cast, now=T0)
    services.ticket_cancel(ticket=t, by=cast.dispatcher, reason="重复", now=T0 + H)
    assert status_at(t, T0 + 2 * H) == (None, None)


def test_a_queryset_of_mixed_orders_in_one_query(cast, django_assert_num_queries):
    on_track = report(cast, now=T0 + 30 * H, phone="13900000001")
    at_risk = report(cast, now=T0, phone="13900000002")
    breached = report(cast, now=T0 - 10 * H, phone="13900000003")
    met = _accepted(cast)
    _reply(cast, met, T0 + H)
    now = T0 + 40 * H
    with django_assert_num_queries(1):
        got = {
            t.pk: (
                t.sla_status,
                int(t.sla_remaining.total_seconds()) if t.sla_remaining is not None else None,
            )
            for t in Ticket.objects.with_sla(now=now)
        }
    assert got == {
        on_track.pk: ("on_track", 38 * 3600),
        at_risk.pk: ("at_risk", 8 * 3600),
        breached.pk: ("breached", -2 * 3600),
        met.pk: ("met", None),
    }


def test_the_index_friendly_filter_selects_what_the_status_annotation_says(cast):
    now = timezone.now()
    for hours in (1, 30, 44, 47, 51, 80):
        ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=hours))
    for hours in (2, 45, 60):
        ticket_in_state(cast, State.SUSPENDED, now=now - timedelta(hours=hours))
    for hours in (1, 50):
        ticket_in_state(cast, State.REPLIED, now=now - timedelta(hours=hours))
        ticket_in_state(cast, State.CLOSED, now=now - timedelta(hours=hours))
    ticket_in_state(cast, State.CANCELLED)
    late = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=51))
    services.ticket_reply(
        ticket=late, by=cast.handler, result="已修复", cause="network", resolved=True, now=now
    )  # replied after the promise was due: missed
    urgent = ticket_in_state(
        cast,
        State.ACCEPTED,
        category=cast.urgent_category,
        now=now - timedelta(hours=3, minutes=30),
    )
    req = services.ticket_request_extension(ticket=urgent, by=cast.handler, hours=2, reason="备件")
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True)

    seen = set()
    for status in SlaStatus.values:
        annotated = annotate_sla_status(Ticket.objects.all(), now=now)
        expected = set(annotated.filter(sla_status=status).values_list("pk", flat=True))
        got = set(
            filter_sla_status(Ticket.objects.all(), status, now=now).values_list("pk", flat=True)
        )
        assert got == expected, status
        if expected:
            seen.add(status)
    # The data set really exercises every status.
    assert seen == set(SlaStatus.values)
