"""越级投诉预警: the escalation-risk score of an open order, one rule at a time, kept up to
date by the order's events, and its single alert to the supervisors."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from notifications.models import Notification
from sla.engine import sla_sweep
from tests.conftest import requires_postgres
from tests.factories import Cast, report, ticket_in_state
from workorders import events, services
from workorders.models import RiskRule, State, Ticket, VisitOutcome
from workorders.services.risk import risk_score_of, ticket_risk_refresh

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


def points(code: str) -> int:
    return RiskRule.objects.get(code=code).points


def stored(ticket) -> int:
    return Ticket.objects.values_list("risk_score", flat=True).get(pk=ticket.pk)


@pytest.fixture
def no_alert(settings):
    settings.RISK_ALERT_THRESHOLD = 101  # one rule at a time, no alerts in the way


def test_a_plain_order_scores_zero(cast, no_alert):
    assert stored(report(cast, now=T0)) == 0


def test_claimed_escalation(cast, no_alert):
    t = report(cast, now=T0, claimed_escalation=True)
    assert stored(t) == points("claimed_escalation") > 0


def test_repeat_within_30_days(cast, no_alert):
    report(cast, now=T0 - timedelta(days=10))
    again = report(cast, now=T0)
    assert again.is_repeat and stored(again) == points("repeat")


@pytest.mark.parametrize("field", [{"is_elderly": True}, {"star_level": 5}])
def test_elderly_or_vip(cast, no_alert, field):
    assert stored(report(cast, now=T0, **field)) == points("elderly_vip")


def test_chased(cast, no_alert):
    t = report(cast, now=T0)
    services.ticket_chase(ticket=t, by=cast.frontline, note="客户再次来电", now=T0)
    assert stored(t) == points("chased")


def test_sla_level_reached_by_the_sweep(cast, no_alert):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0 - timedelta(days=4))
    assert stored(t) == 0
    sla_sweep(now=T0)  # 48 h promise long past: breach, escalation level ≥ 1
    t.refresh_from_db()
    assert t.escalation_level > 0
    assert stored(t) == points("sla_level")


def test_unsatisfied_visit(cast, no_alert):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_visit(
        ticket=t,
        by=cast.dispatcher,
        outcome=VisitOutcome.SUCCESS,
        resolved=True,
        satisfaction="unsatisfied",
        now=T0 + timedelta(hours=1),
    )
    assert stored(t) == points("unsatisfied")


def test_redo(cast, no_alert):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    services.ticket_visit(
        ticket=t,
        by=cast.dispatcher,
        outcome=VisitOutcome.SUCCESS,
        resolved=False,
        satisfaction="basically",
        now=T0 + timedelta(hours=1),
    )
    services.ticket_redo(ticket=t, by=cast.supervisor, reason="未解决", now=T0 + timedelta(hours=2))
    assert stored(t) == points("redo")


def test_inactive_rules_do_not_count_and_points_are_data(cast, no_alert):
    RiskRule.objects.filter(code="claimed_escalation").update(active=False)
    assert stored(report(cast, now=T0, claimed_escalation=True)) == 0
    RiskRule.objects.filter(code="claimed_escalation").update(active=True, points=7)
    assert stored(report(cast, now=T0, claimed_escalation=True, phone="13900000009")) == 7


def test_score_is_capped_at_100_and_zero_once_ended(cast, no_alert):
    RiskRule.objects.update(points=60)
    t = report(cast, now=T0, claimed_escalation=True, is_elderly=True)
    assert stored(t) == 100
    services.ticket_cancel(ticket=t, by=cast.dispatcher, reason="重复", now=T0)
    assert stored(t) == 0 == risk_score_of(t)


def test_crossing_the_threshold_alerts_the_supervisors_once(cast, settings):
    settings.RISK_ALERT_THRESHOLD = points("claimed_escalation") + points("chased")
    t = report(cast, now=T0, claimed_escalation=True)
    assert t.risk_alerted_at is None
    assert not Notification.objects.filter(kind="risk").exists()
    services.ticket_chase(ticket=t, by=cast.frontline, now=T0 + timedelta(minutes=1))
    t.refresh_from_db()
    assert t.risk_alerted_at == T0 + timedelta(minutes=1)
    alerts = Notification.objects.filter(kind="risk", ticket=t)
    assert set(alerts.values_list("recipient__username", flat=True)) == {"t_sup"}
    # Further events keep it above the line: no second alert.
    services.ticket_chase(ticket=t, by=cast.dispatcher, now=T0 + timedelta(minutes=20))
    services.ticket_dispatch(
        ticket=t, by=cast.dispatcher, department=cast.network, now=T0 + timedelta(minutes=30)
    )
    assert alerts.count() == 1
    t.refresh_from_db()
    assert t.risk_alerted_at == T0 + timedelta(minutes=1)


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_refreshes_at_once_alert_once(settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    announced = []
    listeners = [*events._listeners[events.RISK_ALERT], lambda **kw: announced.append(kw)]
    monkeypatch.setitem(events._listeners, events.RISK_ALERT, listeners)
    cast = Cast()
    settings.RISK_ALERT_THRESHOLD = 101
    t = report(cast, now=T0, claimed_escalation=True)
    settings.RISK_ALERT_THRESHOLD = points("claimed_escalation")
    barrier = threading.Barrier(2)

    def refresh():
        try:
            copy = Ticket.objects.get(pk=t.pk)
            barrier.wait()
            with transaction.atomic():
                ticket_risk_refresh(ticket=copy, now=T0)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert Ticket.objects.get(pk=t.pk).risk_alerted_at == T0
    assert len(announced) == 1  # the alert is claimed once, not merely deduplicated
    assert Notification.objects.filter(kind="risk", ticket=t).count() == 1
