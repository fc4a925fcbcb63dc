"""Clocks on business calendars, driven through the workflow services with explicit instants:
due times across nights, weekends and the 2026 Spring Festival, pauses spanning a holiday, an
extension, a rejected reply, the department's desk hours for sign-for, the first-response clock
of online channels, and the sweep by time travel."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from sla.calendars import working_between
from sla.display import remaining_text
from sla.engine import sla_sweep
from sla.models import Clock, ClockKind, DepartmentCalendar, SlaEvent
from sla.reference import calendar_of
from sla.selectors import clock_rule_text, filter_sla_status, promise_remaining
from tests.factories import report, ticket_in_state
from workorders import services
from workorders.models import State, Ticket

from .conftest import set_rule

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
# Friday before the 2026 Spring Festival, one hour before the office closes.
FRI = datetime(2026, 2, 13, 16, 0, tzinfo=SH)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def promise(ticket) -> Clock:
    return Clock.objects.get(ticket=ticket, kind=ClockKind.PROMISE, voided=False)


def accepted(cast, at=FRI) -> Ticket:
    t = report(cast, now=at)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=at + M)
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=at + 2 * M)
    return t


@pytest.fixture
def office_promise(office):
    """The general promise (48 h) counts the office's working time (7 h a day)."""
    return set_rule("promise", calendar=office)


# --- due times ------------------------------------------------------------------------------------


def test_promise_counts_48_working_hours_across_the_weekend_and_spring_festival(
    cast, office_promise
):
    t = report(cast, now=FRI)
    p = promise(t)
    # Fri 1 h, make-up Sat 14 Feb 7 h, off 15–23 Feb, Tue–Fri 24–27 Feb 28 h, make-up Sat
    # 28 Feb 7 h (43 h), Monday 2 March 09:00–12:00 and 13:00–15:00.
    assert p.due_at == p.original_due_at == sh(2026, 3, 2, 15, 0)
    assert Ticket.objects.get(pk=t.pk).promise_due_at == sh(2026, 3, 2, 15, 0)
    assert p.calendar_id == office_promise.calendar_id and p.policy_id == office_promise.pk
    # Thresholds in working time: 50 % (24 h) on Thursday 26 Feb 11:00, 80 % (38.4 h) on the
    # make-up Saturday at 11:24.
    assert p.next_threshold_at == sh(2026, 2, 26, 11, 0)
    assert p.risk_at == sh(2026, 2, 28, 11, 24)
    assert p.remaining_seconds(FRI) == 48 * 3600
    # Over the holiday nothing is used up.
    assert p.remaining_seconds(sh(2026, 2, 15, 9, 0)) == p.remaining_seconds(sh(2026, 2, 23, 18, 0))
    assert p.remaining_seconds(sh(2026, 2, 23, 18, 0)) == 40 * 3600
    # The other clocks keep natural time.
    dispatch = Clock.objects.get(ticket=t, kind=ClockKind.DISPATCH)
    assert dispatch.calendar_id is None and dispatch.due_at == FRI + 2 * H


def test_status_in_sql_follows_the_stored_working_time_due(cast, office_promise):
    t = report(cast, now=FRI)
    qs = Ticket.objects.filter(pk=t.pk)
    assert filter_sla_status(qs, "on_track", now=sh(2026, 2, 28, 11, 23)).exists()
    assert filter_sla_status(qs, "at_risk", now=sh(2026, 2, 28, 11, 24)).exists()
    assert filter_sla_status(qs, "at_risk", now=sh(2026, 3, 2, 15, 0)).exists()
    assert filter_sla_status(qs, "breached", now=sh(2026, 3, 2, 15, 0) + S).exists()
    row = Ticket.objects.with_sla(now=sh(2026, 2, 27, 17, 0)).get(pk=t.pk)
    remaining, working = promise_remaining(row)
    assert working and remaining == 12 * H  # Sat 28 Feb 7 h + Mon 2 Mar 5 h


# --- pauses, extensions, rejected replies ---------------------------------------------------------


def test_a_pause_spanning_the_holiday_adds_only_the_working_time_that_passed(cast, office_promise):
    t = accepted(cast)
    # Suspended in the make-up Saturday's lunch break, resumed on Tuesday 24 Feb 10:00.
    services.ticket_suspend(
        ticket=t,
        by=cast.lead,
        reason="appointment",
        until=sh(2026, 2, 24, 10),
        now=sh(2026, 2, 14, 12, 30),
    )
    frozen = promise(t).remaining_seconds(sh(2026, 2, 20, 9, 0))
    assert frozen == promise(t).remaining_seconds(sh(2026, 2, 24, 9, 30))  # frozen
    services.ticket_resume(ticket=t, by=cast.handler, now=sh(2026, 2, 24, 10, 0))
    p = promise(t)
    # Saturday 13:00–17:00 and Tuesday 09:00–10:00: 5 working hours, not nine and a half days.
    assert p.paused_seconds == 5 * 3600
    # Mon 2 Mar 15:00 + 5 h: 15:00–17:00, then Tuesday 09:00–12:00.
    assert p.due_at == p.original_due_at == sh(2026, 3, 3, 12, 0)
    assert Ticket.objects.get(pk=t.pk).promise_due_at == sh(2026, 3, 3, 12, 0)
    assert p.remaining_seconds(sh(2026, 2, 24, 10, 0)) == frozen


def test_a_pause_wholly_inside_the_holiday_moves_nothing(cast, office_promise):
    t = accepted(cast)
    services.ticket_suspend(
        ticket=t, by=cast.lead, reason="unreachable", until=sh(2026, 2, 22), now=sh(2026, 2, 16, 10)
    )
    services.ticket_resume(ticket=t, by=cast.lead, now=sh(2026, 2, 21, 15))
    p = promise(t)
    assert p.paused_seconds == 0
    assert p.due_at == sh(2026, 3, 2, 15, 0)


def test_an_extension_adds_working_hours_to_the_effective_due_only(cast, office_promise):
    t = accepted(cast)
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=24, reason="需协调第三方施工", now=FRI + H
    )
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True, now=FRI + H)
    p = promise(t)
    assert p.original_due_at == sh(2026, 3, 2, 15, 0)
    # Mon 2 Mar 2 h, Tue–Thu 21 h, Friday 6 March 09:00–10:00.
    assert p.due_at == sh(2026, 3, 6, 10, 0)
    assert working_between(calendar_of(p.calendar_id), p.original_due_at, p.due_at) == 24 * 3600
    # Replied between the two: met against the effective due, missed against the original.
    services.ticket_reply(
        ticket=t,
        by=cast.handler,
        result="已处理",
        cause="network",
        resolved=True,
        now=sh(2026, 3, 4, 9, 0),
    )
    p = promise(t)
    assert (p.outcome, p.outcome_original) == ("met", "missed")


def test_a_rejected_reply_counts_the_wait_in_working_time(cast, office_promise):
    t = accepted(cast)
    services.ticket_reply(
        ticket=t,
        by=cast.handler,
        result="已处理",
        cause="network",
        resolved=True,
        now=sh(2026, 2, 13, 16, 30),
    )
    services.ticket_reject_reply(
        ticket=t, by=cast.dispatcher, reason="未联系客户", now=sh(2026, 2, 24, 9, 30)
    )
    p = promise(t)
    # Fri 16:30–17:00, the make-up Saturday, Tue 09:00–09:30: 8 h.
    assert p.paused_seconds == 8 * 3600
    assert p.due_at == sh(2026, 3, 3, 16, 0)


def test_urgency_change_recomputes_under_the_urgent_rule_and_its_calendar(cast, office_promise):
    t = report(cast, now=FRI)
    services.ticket_change_urgency(
        ticket=t, by=cast.dispatcher, urgency="urgent", reason="影响营业", now=FRI + H
    )
    p = promise(t)
    assert (p.calendar_id, p.due_at) == (None, FRI + 4 * H)  # the urgent rule: natural time


# --- sign-for on the department's desk hours ------------------------------------------------------


def test_sign_for_counts_the_departments_desk_hours(cast, desk):
    DepartmentCalendar.objects.create(department=cast.network, calendar=desk)
    at = sh(2026, 11, 23, 20, 0)
    t = report(cast, now=at)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=at + 30 * M)
    sign = Clock.objects.get(ticket=t, kind=ClockKind.SIGN_FOR)
    # 2 h from 20:30: half an hour tonight, 08:00–09:30 tomorrow.
    assert (sign.calendar_id, sign.due_at) == (desk.pk, sh(2026, 11, 24, 9, 30))
    assert "坐席 7×13" in clock_rule_text(sign) and "部门" in clock_rule_text(sign)
    assert promise(t).calendar_id is None  # the customer's promise is natural time
    # Redispatched to a department without a calendar: natural time again.
    services.ticket_redispatch(
        ticket=t, by=cast.dispatcher, department=cast.business, reason="转营业", now=at + 40 * M
    )
    sign = Clock.objects.get(ticket=t, kind=ClockKind.SIGN_FOR, voided=False)
    assert (sign.calendar_id, sign.due_at) == (None, at + 40 * M + 2 * H)


# --- first response (online channels) -------------------------------------------------------------


@pytest.mark.parametrize("channel", ["online", "app", "social"])
def test_online_channels_run_a_first_response_clock_stopped_by_the_dispatch(cast, channel):
    at = sh(2026, 11, 23, 10, 0)
    t = report(cast, now=at, channel=channel)
    first = Clock.objects.get(ticket=t, kind=ClockKind.FIRST_RESPONSE)
    assert first.due_at == at + 15 * M and first.stopped_at is None
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=at + 10 * M)
    first.refresh_from_db()
    assert (first.stopped_at, first.outcome) == (at + 10 * M, "met")


def test_a_late_first_response_is_missed_and_other_channels_have_none(cast):
    at = sh(2026, 11, 23, 10, 0)
    t = report(cast, now=at, channel="social")
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=at + 20 * M)
    assert Clock.objects.get(ticket=t, kind=ClockKind.FIRST_RESPONSE).outcome == "missed"
    for channel in ("field", "counter", "hotline", "regulator", "other"):
        other = report(cast, now=at, channel=channel, phone="13900000000")
        assert not Clock.objects.filter(ticket=other, kind=ClockKind.FIRST_RESPONSE).exists()


def test_cancelling_voids_the_first_response_clock(cast):
    t = report(cast, now=sh(2026, 11, 23, 10), channel="app")
    services.ticket_cancel(ticket=t, by=cast.dispatcher, reason="重复", now=sh(2026, 11, 23, 10, 5))
    assert Clock.objects.get(ticket=t, kind=ClockKind.FIRST_RESPONSE).voided


def test_the_first_response_remind_goes_to_the_dispatch_desk(cast):
    at = sh(2026, 11, 23, 10, 0)
    t = report(cast, now=at, channel="social")
    sla_sweep(now=at + 7 * M + 30 * S)
    assert set(
        t.notifications.filter(kind="remind").values_list("recipient__username", flat=True)
    ) == {"t_disp"}


# --- the sweep, by time travel --------------------------------------------------------------------


def levels(clock) -> list[int]:
    return list(SlaEvent.objects.filter(clock=clock).values_list("level", flat=True))


def test_the_sweep_fires_each_threshold_at_its_working_time_instant(cast, office_promise):
    t = accepted(cast)
    clock = promise(t)
    steps = [
        (sh(2026, 2, 23, 12, 0), []),  # a week later, but a holiday: 8 h of 48 used
        (sh(2026, 2, 26, 11, 0) - S, []),
        (sh(2026, 2, 26, 11, 0), [1]),  # 50 %: 24 working hours
        (sh(2026, 2, 28, 11, 24) - S, [1]),
        (sh(2026, 2, 28, 11, 24), [1, 2]),  # 80 % on the make-up Saturday
        (sh(2026, 3, 1, 20, 0), [1, 2]),  # Sunday: no working time passes
        (sh(2026, 3, 2, 15, 0) - S, [1, 2]),
        (sh(2026, 3, 2, 15, 0), [1, 2, 3]),  # breach at the stored due time
        (sh(2026, 3, 6, 10, 0) - S, [1, 2, 3]),
        (sh(2026, 3, 6, 10, 0), [1, 2, 3, 4]),  # 150 %: 72 working hours
    ]
    for now, expected in steps:
        sla_sweep(now=now)
        assert levels(clock) == expected, now
    t.refresh_from_db()
    assert (t.supervise_count, t.escalation_level) == (1, 2)


def test_the_sweep_resumes_at_the_until_time_and_thresholds_shift_by_working_time(
    cast, office_promise
):
    t = accepted(cast)
    clock = promise(t)
    services.ticket_suspend(
        ticket=t,
        by=cast.lead,
        reason="appointment",
        until=sh(2026, 2, 24, 10),
        now=sh(2026, 2, 14, 12, 30),
    )
    sla_sweep(now=sh(2026, 2, 24, 10, 0))
    t.refresh_from_db()
    assert t.state == State.ACCEPTED
    # Remind moved by the 5 paused working hours: Thursday 26 Feb 11:00 → 17:00 (lunch).
    sla_sweep(now=sh(2026, 2, 26, 17, 0) - S)
    assert levels(clock) == []
    sla_sweep(now=sh(2026, 2, 26, 17, 0))
    assert levels(clock) == [1]


# --- how it reads ---------------------------------------------------------------------------------


def test_remaining_working_time_reads_with_its_due_moment(cast, desk):
    cal = calendar_of(desk.pk)
    now = sh(2026, 11, 23, 20, 0)
    due = sh(2026, 11, 24, 10, 0)  # 21:00 tonight, then 08:00–10:00 tomorrow
    left = working_between(cal, now, due)
    assert left == 3 * 3600
    assert (
        remaining_text(left, working=True, due_at=due, now=now) == "剩 3工作小时 (明天 10:00 到期)"
    )
    assert remaining_text(-5400, working=True, due_at=now - H, now=now) == (
        "已超时 1工作小时30分钟 (今天 19:00 到期)"
    )
    assert remaining_text(3 * 3600, now=now) == "剩 3小时0分钟"  # natural time as before
    with translation.override("en"):
        assert remaining_text(left, working=True, due_at=due, now=now) == (
            "3 working h left (due tomorrow 10:00)"
        )


def test_phone_and_admin_order_pages_show_working_hours_and_the_rule(cast, office_promise, client):
    from django.urls import reverse

    from tests.factories import user_with

    t = ticket_in_state(cast, State.ACCEPTED, now=FRI)
    client.force_login(cast.frontline)
    page = client.get(reverse("web:order", args=[t.number])).content.decode()
    assert "工作小时" in page and "到期" in page
    admin = user_with("dispatcher", department=cast.business, username="t_disp2")
    client.force_login(admin)
    page = client.get(reverse("admin:workorders_ticket_change", args=[t.pk])).content.decode()
    assert "工作小时" in page
    assert f"规则 #{office_promise.pk} v2" in page and "机关 5×8" in page
    assert "兜底规则" in page
