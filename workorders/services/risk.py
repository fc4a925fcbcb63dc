"""越级投诉预警: the escalation-risk score of an open order, 0–100, from the active RiskRules.
Recomputed whenever something that feeds it happens (the order's events, the SLA sweep's
escalation); crossing RISK_ALERT_THRESHOLD upwards is announced once (events.RISK_ALERT)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings

from accounts.copies import ProcessCopy, watch

from .. import events
from ..models import RedoProposal, RiskRule, Satisfaction, Ticket
from .common import _now

REPEAT_DAYS = 30
# The active rules, read once per process until one is written (accounts.copies).
ACTIVE_RULES: ProcessCopy[tuple[RiskRule, ...]] = ProcessCopy(
    "risk_rules", lambda: tuple(RiskRule.objects.filter(active=True))
)


def _unsatisfied(ticket: Ticket) -> bool:
    # The visit or the customer's survey said 不满意 (a redo proposal records either).
    return (
        ticket.visit_satisfaction == Satisfaction.UNSATISFIED
        or RedoProposal.objects.filter(
            ticket=ticket, visit_satisfaction=Satisfaction.UNSATISFIED
        ).exists()
    )


def _unsatisfied_new(ticket: Ticket) -> bool:
    # An order created in this transaction has no redo proposal yet.
    return ticket.visit_satisfaction == Satisfaction.UNSATISFIED


# The condition of each rule code. A code without a condition scores nothing.
CONDITIONS: dict[str, Callable[[Ticket], bool]] = {
    "claimed_escalation": lambda t: t.claimed_escalation,
    "repeat": lambda t: t.is_repeat,  # a repeat is within 30 days (find_repeat_of)
    "elderly_vip": lambda t: t.is_elderly or (t.star_level or 0) >= 5,
    "chased": lambda t: t.chase_count > 0,
    "sla_level": lambda t: t.escalation_level > 0,
    "unsatisfied": _unsatisfied,
    "redo": lambda t: t.redo_count > 0,
}
CONDITIONS_NEW = {**CONDITIONS, "unsatisfied": _unsatisfied_new}


def risk_score_of(
    ticket: Ticket, rules: list[RiskRule] | None = None, *, new_order: bool = False
) -> int:
    """The score of the order now: 0 once it has ended. `new_order`: created in the caller's
    transaction (nothing has been recorded on it yet)."""
    if not ticket.is_open:
        return 0
    rules = rules if rules is not None else ACTIVE_RULES.get()
    conditions = CONDITIONS_NEW if new_order else CONDITIONS
    total = sum(r.points for r in rules if r.active and conditions.get(r.code, _never)(ticket))
    return min(total, 100)


def _never(ticket: Ticket) -> bool:
    return False


def ticket_risk_refresh(
    *, ticket: Ticket, now: datetime | None = None, new_order: bool = False
) -> int:
    """Store the order's score (a derived column: no version step) and, the first time it
    reaches the threshold, mark and announce the alert — a conditional update, so two events
    at once alert once."""
    now = _now(now)
    score = risk_score_of(ticket, new_order=new_order)
    if score != ticket.risk_score:
        Ticket.objects.filter(pk=ticket.pk).update(risk_score=score)
        ticket.risk_score = score
    if score >= settings.RISK_ALERT_THRESHOLD and ticket.risk_alerted_at is None:
        claimed = Ticket.objects.filter(pk=ticket.pk, risk_alerted_at__isnull=True).update(
            risk_alerted_at=now
        )
        ticket.risk_alerted_at = Ticket.objects.values_list("risk_alerted_at", flat=True).get(
            pk=ticket.pk
        )
        if claimed:
            events.publish(events.RISK_ALERT, ticket=ticket, score=score, now=now)
    return score


def tickets_risk_refresh(*, ticket_ids, now: datetime | None = None) -> None:
    """For the SLA sweep: refresh the orders whose escalation level it raised."""
    for ticket in Ticket.objects.filter(pk__in=list(ticket_ids)):
        ticket_risk_refresh(ticket=ticket, now=now)


def _on_event(*, ticket: Ticket, now: datetime, **_payload) -> None:
    ticket_risk_refresh(ticket=ticket, now=now)


def _on_reported(*, ticket: Ticket, now: datetime, **_payload) -> None:
    ticket_risk_refresh(ticket=ticket, now=now, new_order=True)


def subscribe() -> None:
    watch(RiskRule, ACTIVE_RULES)
    events.subscribe(events.REPORTED, _on_reported)
    for kind in (events.TRANSITION, events.CHASE, events.RECORDED):
        events.subscribe(kind, _on_event)
