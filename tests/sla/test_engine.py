"""The SLA sweep, by time travel: every sweep gets an explicit `now`."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from notifications.models import Notification
from sla.engine import sla_sweep
from sla.models import SlaEvent
from tests.factories import ticket_in_state
from workorders import services
from workorders.models import AuditEntry, State, Supervision, VisitOutcome

from .conftest import T0, at

GENERAL = timedelta(hours=48)
URGENT = timedelta(hours=4)


def events(clock):
    return list(SlaEvent.objects.filter(clock=clock).values_list("level", "kind", "late"))


def told(ticket, kind):
    return set(
        Notification.objects.filter(ticket=ticket, kind=kind).values_list(
            "recipient__username", flat=True
        )
    )


def accepted(cast, *, urgent: bool, now=T0):
    category = cast.urgent_category if urgent else cast.category
    return ticket_in_state(cast, State.ACCEPTED, now=now, category=category)


@pytest.mark.parametrize("urgent", [False, True], ids=["general", "urgent"])
def test_each_threshold_fires_once_at_its_time_and_none_after_stop(cast, branch_lead, urgent):
    target = URGENT if urgent else GENERAL
    t = accepted(cast, urgent=urgent)
    clock = t.promise_clock
    assert clock.target_seconds == target.total_seconds()

    sla_sweep(now=at(0.5, target, seconds=-1))
    assert events(clock) == []

    sla_sweep(now=at(0.5, target))
    assert events(clock) == [(1, "remind", False)]
    assert told(t, "remind") == {"t_handler"}

    sla_sweep(now=at(0.8, target, seconds=-1))
    assert len(events(clock)) == 1
    sla_sweep(now=at(0.8, target))
    assert events(clock)[-1] == (2, "chase", False)
    assert told(t, "chase") == {"t_lead"}

    sla_sweep(now=at(1.0, target, seconds=-1))
    assert len(events(clock)) == 2
    sla_sweep(now=at(1.0, target))
    assert events(clock)[-1] == (3, "supervise", False)
    # The breach: the people who answer for the order (supervisors read it in their digest).
    assert told(t, "supervise") == {"t_handler", "t_lead"}
    assert Supervision.objects.filter(ticket=t, by=None).count() == 1
    t.refresh_from_db()
    assert t.supervise_count == 1
    assert t.escalation_level == 1

    sla_sweep(now=at(1.5, target, seconds=-1))
    assert len(events(clock)) == 3
    sla_sweep(now=at(1.5, target))
    assert events(clock)[-1] == (4, "escalate", False)
    # Beyond the breach the supervisors and the parent department's leads hear of it.
    assert told(t, "escalate") == {"t_sup", "t_branch_lead"}
    sla_sweep(now=at(2.0, target))
    assert events(clock)[-1] == (5, "escalate", False)
    t.refresh_from_db()
    assert t.escalation_level == 3
    assert Supervision.objects.filter(ticket=t).count() == 1  # the breach, once

    services.ticket_reply(
        ticket=t,
        by=cast.handler,
        result="已处理",
        cause="network",
        resolved=True,
        now=at(2.1, target),
    )
    clock.refresh_from_db()
    assert clock.next_threshold_at is None
    sla_sweep(now=at(3.5, target))
    assert len(events(clock)) == 5


@pytest.mark.parametrize("urgent", [False, True], ids=["general", "urgent"])
def test_suspension_delays_every_threshold_by_the_paused_span(cast, urgent):
    target = URGENT if urgent else GENERAL
    t = accepted(cast, urgent=urgent)
    clock = t.promise_clock
    span = target * 0.25
    suspended_at = at(0.3, target)
    services.ticket_suspend(
        ticket=t,
        by=cast.lead,
        reason="appointment",
        until=suspended_at + span,
        now=suspended_at,
    )

    # Past 50 % of the original timeline, but paused: nothing.
    sla_sweep(now=at(0.52, target))
    assert events(clock) == []
    t.refresh_from_db()
    assert t.state == State.SUSPENDED

    # The sweep resumes the order at its until-time, as the system.
    sla_sweep(now=at(0.5, target, seconds=-1) + span)
    t.refresh_from_db()
    assert t.state == State.ACCEPTED
    resume = AuditEntry.objects.get(ticket=t, transition="resume")
    assert resume.actor is None and resume.at == suspended_at + span
    assert events(clock) == []

    for fraction, level, kind in [(0.5, 1, "remind"), (0.8, 2, "chase"), (1.0, 3, "supervise")]:
        sla_sweep(now=at(fraction, target, seconds=-1) + span)
        assert len(events(clock)) == level - 1, fraction
        sla_sweep(now=at(fraction, target) + span)
        assert events(clock)[-1] == (level, kind, False)
    sla_sweep(now=at(1.5, target, seconds=-1) + span)
    assert len(events(clock)) == 3
    sla_sweep(now=at(1.5, target) + span)
    assert events(clock)[-1] == (4, "escalate", False)


def test_two_sweeps_at_the_same_instant_send_nothing_new(cast):
    t = accepted(cast, urgent=False)
    now = at(1.0, GENERAL)
    first = sla_sweep(now=now)
    counts = (SlaEvent.objects.count(), Notification.objects.count())
    second = sla_sweep(now=now)
    assert first.events == 3
    assert second.events == 0 and second.notifications == 0
    assert (SlaEvent.objects.count(), Notification.objects.count()) == counts
    assert Supervision.objects.filter(ticket=t).count() == 1


def test_catch_up_records_every_missed_level_once_and_only_the_latest_is_told(cast, branch_lead):
    t = accepted(cast, urgent=False)
    clock = t.promise_clock
    sla_sweep(now=at(0.4, GENERAL))
    # The worker was down from 40 % to 160 % of the target.
    result = sla_sweep(now=at(1.6, GENERAL))
    assert events(clock) == [
        (1, "remind", True),
        (2, "chase", True),
        (3, "supervise", True),
        (4, "escalate", False),
    ]
    assert result.late_events == 3
    assert told(t, "remind") == told(t, "chase") == told(t, "supervise") == set()
    assert told(t, "escalate") == {"t_sup", "t_branch_lead"}
    # The breach is still on the record once.
    assert Supervision.objects.filter(ticket=t).count() == 1
    sla_sweep(now=at(1.6, GENERAL))
    assert len(events(clock)) == 4
    assert Notification.objects.filter(kind="escalate").count() == 2


def test_unassigned_remind_goes_to_the_departments_leads(cast):
    t = ticket_in_state(cast, State.DISPATCHED, now=T0)
    sign_for = t.clocks.get(kind="sign_for")
    sla_sweep(now=sign_for.started_at + timedelta(hours=1))
    assert told(t, "remind") == {"t_lead"}


def test_dispatch_clock_remind_is_for_the_digest_not_every_dispatcher(cast):
    t = ticket_in_state(cast, State.REPORTED, now=T0)
    sla_sweep(now=T0 + timedelta(hours=1))
    assert SlaEvent.objects.filter(ticket=t, kind="remind").exists()
    assert told(t, "remind") == set()


def test_replied_order_closes_itself_after_the_auto_close_window(cast, settings):
    settings.SLA_AUTO_CLOSE_HOURS = 72
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    replied_at = t.replied_at
    sla_sweep(now=replied_at + timedelta(hours=72, seconds=-1))
    t.refresh_from_db()
    assert t.state == State.REPLIED
    sla_sweep(now=replied_at + timedelta(hours=72))
    t.refresh_from_db()
    assert t.state == State.CLOSED
    assert t.visit_outcome == VisitOutcome.NOT_REACHED  # an unsuccessful visit
    assert t.visit_resolved is None and t.visit_satisfaction == ""
    close = AuditEntry.objects.get(ticket=t, transition="close")
    assert close.actor is None and close.actor_role == "system"
    # The reporter, and the handler whose work it closes.
    assert told(t, "closed") == {"t_front", "t_handler"}


def test_pending_redo_proposal_is_not_auto_closed(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_propose_redo(
        ticket=t, by=cast.dispatcher, reason="客户不满意", now=t.replied_at + timedelta(hours=1)
    )
    sla_sweep(now=t.replied_at + timedelta(hours=100))
    t.refresh_from_db()
    assert t.state == State.REPLIED


def test_notification_names_order_clock_due_time_and_time_left(cast):
    t = accepted(cast, urgent=False)
    sla_sweep(now=at(0.5, GENERAL))
    n = Notification.objects.get(ticket=t, kind="remind")
    assert t.number in n.title and "承诺时限" in n.title and "提醒" in n.title
    # Due 48 h after 2026-11-02 09:00 Shanghai time; 24 h left.
    assert "2026-11-04 09:00" in n.body
    assert "剩余 1天0小时" in n.body


def test_overdue_notification_says_how_long_overdue(cast):
    t = accepted(cast, urgent=True)
    sla_sweep(now=at(1.5, URGENT))
    n = Notification.objects.get(ticket=t, kind="escalate", recipient=cast.supervisor)
    assert "已超时 2小时0分钟" in n.body


def test_english_user_gets_english_text(cast):
    cast.handler.language = "en"
    cast.handler.save()
    t = accepted(cast, urgent=False)
    sla_sweep(now=at(0.5, GENERAL))
    n = Notification.objects.get(ticket=t, kind="remind")
    assert n.title.startswith(f"[Remind] Order {t.number} · Promise")
    assert "2026-11-04 09:00" in n.body and "1 d 0 h left" in n.body
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in n.title + n.body.split("Matter:")[0])


def test_reporter_hears_of_dispatch_reply_and_close(cast):
    t = ticket_in_state(cast, State.CLOSED, now=T0)
    kinds = set(
        Notification.objects.filter(ticket=t, recipient=cast.frontline).values_list(
            "kind", flat=True
        )
    )
    assert kinds == {"dispatched", "replied", "closed"}


def test_reporter_closing_on_the_spot_is_not_told_of_it(cast):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_visit(
        ticket=t,
        by=cast.frontline,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
        now=t.replied_at + timedelta(minutes=5),
    )
    # The reporter did it; the handler hears the verdict on his work.
    assert told(t, "closed") == {"t_handler"}


def test_a_users_chase_reaches_the_departments_leads(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    services.ticket_chase(
        ticket=t, by=cast.frontline, note="客户很着急", now=T0 + timedelta(hours=1)
    )
    assert told(t, "user_chase") == {"t_lead", "t_handler"}
    n = Notification.objects.get(ticket=t, kind="user_chase", recipient=cast.lead)
    assert "客户很着急" in n.body and t.number in n.body


def test_management_command_runs_one_sweep(cast, capsys):
    t = accepted(cast, urgent=False)
    call_command("sla_sweep", "--now", at(0.8, GENERAL).isoformat())
    assert [e[:2] for e in events(t.promise_clock)] == [(1, "remind"), (2, "chase")]
    assert "events: 2" in capsys.readouterr().out


def test_management_command_rejects_a_bad_time(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("sla_sweep", "--now", "yesterday")


def test_reporter_notifications_name_the_promise_due_time(cast):
    t = ticket_in_state(cast, State.CLOSED, now=T0)
    mine = Notification.objects.filter(recipient=cast.frontline)
    dispatched = mine.get(ticket=t, kind="dispatched")
    assert "2026-11-04 09:00" in dispatched.body and "剩余 1天23小时" in dispatched.body
    # Replied with time to spare: said at the moment of the reply.
    replied = mine.get(ticket=t, kind="replied")
    assert "2026-11-04 09:00" in replied.body and "剩余" in replied.body
    closed = mine.get(ticket=t, kind="closed")
    assert "2026-11-04 09:00" in closed.body and "：按时。" in closed.body
