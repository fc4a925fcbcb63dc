"""Reads with a rule about the customer's side: the dispatchers' callback queue (which waits
for the survey) and the customer's rows on the staff timeline."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from workorders.models import State, Ticket

from .models import CustomerNote, Survey


def awaiting_survey_q(now: datetime) -> Q:
    """Replied orders whose customer may still answer the survey of the current reply: it is
    unanswered and within its share of the visit clock (`SURVEY_WAIT_SHARE`)."""
    return Q(state=State.REPLIED) & Q(
        Exists(
            Survey.objects.filter(
                ticket=OuterRef("pk"),
                offered_at=OuterRef("replied_at"),  # the survey of this reply, not an older one
                answered_at__isnull=True,
                wait_until__gt=now,
            )
        )
    )


def callback_queue(qs: QuerySet[Ticket], *, now: datetime) -> QuerySet[Ticket]:
    """待回访: replied orders a dispatcher should call, i.e. every replied order except those
    still waiting for the customer's own survey answer. The back office's preset and the
    API's filter both use this."""
    return qs.filter(state=State.REPLIED).exclude(awaiting_survey_q(now))


def survey_text(survey: Survey) -> str:
    parts = [_("已解决") if survey.resolved else _("未解决"), survey.get_satisfaction_display()]
    if survey.comment:
        parts.append(survey.comment)
    text = " · ".join(str(p) for p in parts)
    if survey.applied is False:
        text += " " + _("（回访已有结论，仅作记录）")
    return text


def ticket_customer_timeline(ticket: Ticket, user) -> list[dict]:
    """The customer's notes (客户补充) and survey answers (客户评价) on the staff timeline."""
    items = [
        {"at": n.created_at, "type": "customer_note", "actor": None, "text": n.text, "obj": n}
        for n in CustomerNote.objects.filter(ticket=ticket)
    ]
    items += [
        {"at": s.answered_at, "type": "survey", "actor": None, "text": survey_text(s), "obj": s}
        for s in Survey.objects.filter(ticket=ticket, answered_at__isnull=False)
    ]
    return items
