"""What the customer is told, and when (DESIGN.md §9): one text per event of their order —
accepted, dispatched (to a line, never a person), suspended (reason and expected resume) and
resumed, extended (the new time, approved), replied (the handler's words for the customer and
the survey link), closed — each with the status link. The channel's rules (quiet hours,
daily cap, opt-out, fixed lines, coalescing) are `notifications.sms_channel`'s.

Listeners of `workorders.events`, so each text is written in the transaction of its change."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import translation

from accounts.models import DepartmentKind
from notifications.models import SmsEvent
from notifications.sms_channel import sms_enqueue
from notifications.sms_templates import local_time_text
from workorders.models import AuditEntry, SuspensionReason, Ticket, Urgency

from .services import status_url_for, survey_url_for

# Transitions the customer hears about.
TRANSITION_EVENTS = {
    "dispatch": SmsEvent.DISPATCHED,
    "redispatch": SmsEvent.DISPATCHED,
    "rule_return": SmsEvent.DISPATCHED,
    "suspend": SmsEvent.SUSPENDED,
    "resume": SmsEvent.RESUMED,
    "reply": SmsEvent.REPLIED,
    "close": SmsEvent.CLOSED,
}
REPLY_MAX = 60  # characters of the handler's reply in the text; the page has all of it


def line_name(department) -> str:
    """The professional line (or branch) an order was sent to: the department, or its nearest
    ancestor that is not a team. Never a person."""
    d = department
    while d is not None and d.kind == DepartmentKind.TEAM and d.parent_id:
        d = d.parent
    return d.name if d is not None else ""


def _reply_text(ticket: Ticket) -> str:
    text = " ".join((ticket.public_reply or "").split())
    if not text:
        return "请查看答复详情"
    return text if len(text) <= REPLY_MAX else text[: REPLY_MAX - 1] + "…"


def _params(ticket: Ticket, event: str, *, now: datetime, audit: AuditEntry | None) -> dict:
    params = {
        "number": ticket.number,
        "category": ticket.category.name,
        "status_url": status_url_for(ticket, now=now),
    }
    if event in (SmsEvent.ACCEPTED, SmsEvent.DISPATCHED, SmsEvent.RESUMED, SmsEvent.EXTENDED):
        params["promise_time"] = local_time_text(ticket.promise_due_at)
    if event == SmsEvent.DISPATCHED:
        params["line"] = line_name(ticket.department)
    elif event == SmsEvent.SUSPENDED:
        reason = (audit.data or {}).get("reason", "") if audit else ""
        with translation.override(settings.LANGUAGE_CODE):
            label = str(SuspensionReason(reason).label) if reason in SuspensionReason.values else ""
        params["reason"] = label or "客户原因"
        params["resume_time"] = local_time_text(ticket.suspended_until)
    elif event == SmsEvent.REPLIED:
        params["reply"] = _reply_text(ticket)
        params["survey_url"] = survey_url_for(ticket, now=now)
    return params


def tell_customer(
    *,
    ticket: Ticket,
    event: str,
    ref: str,
    now: datetime,
    audit: AuditEntry | None = None,
    new_order: bool = False,
):
    """Write the text of `event` for the order's customer (or fold it into the one waiting)."""
    return sms_enqueue(
        ticket=ticket,
        event=event,
        ref=ref,
        params=_params(ticket, event, now=now, audit=audit),
        now=now,
        urgent=ticket.urgency == Urgency.URGENT,
        new_order=new_order,
    )


def tell_fault_eta(*, ticket: Ticket, text: str, ref: str, now: datetime):
    """A mass fault's restore message (its ETA) to the customer of one linked order."""
    params = _params(ticket, SmsEvent.FAULT_ETA, now=now, audit=None)
    params["fault_message"] = " ".join(text.split())
    return sms_enqueue(
        ticket=ticket,
        event=SmsEvent.FAULT_ETA,
        ref=ref,
        params=params,
        now=now,
        urgent=ticket.urgency == Urgency.URGENT,
    )


def on_reported(*, ticket: Ticket, now: datetime, **_kw) -> None:
    # Published inside the order's creating transaction: no text of it can be waiting.
    tell_customer(ticket=ticket, event=SmsEvent.ACCEPTED, ref="report", now=now, new_order=True)


def on_transition(*, ticket: Ticket, transition: str, audit_id: int, now: datetime, **_kw):
    event = TRANSITION_EVENTS.get(transition)
    if event is None:
        return
    audit = None
    if event == SmsEvent.SUSPENDED:
        audit = AuditEntry.objects.filter(pk=audit_id).only("data").first()
    tell_customer(ticket=ticket, event=event, ref=f"a{audit_id}", now=now, audit=audit)


def on_audit_saved(sender, instance: AuditEntry, created: bool, raw: bool = False, **_kw):
    """An approved extension is an audit row (`extend`) without a transition event: heard
    from the row itself, inside the approval's transaction."""
    if created and not raw and instance.transition == "extend":
        tell_customer(
            ticket=instance.ticket, event=SmsEvent.EXTENDED, ref=f"a{instance.pk}", now=instance.at
        )
