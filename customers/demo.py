"""Demo data of the customer's side (run by `manage.py seed_demo` after the orders, idempotent):
every demo order has its status link, every replied one its survey, and one customer has
answered (which closed their order through the survey)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from workorders.models import IdempotencyRecord, Satisfaction, State, Ticket

from . import services
from .models import StatusLink, Survey


def _demo_orders():
    ids = IdempotencyRecord.objects.filter(key__startswith="seed-demo-").values("ticket_id")
    return Ticket.objects.filter(pk__in=ids)


@transaction.atomic
def seed_customer_demo(*, users: dict | None = None, now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    orders = _demo_orders()
    for ticket in orders.filter(status_link__isnull=True):
        services.status_link_for(ticket, now=ticket.reported_at)
    replied = orders.filter(state=State.REPLIED).order_by("number")
    # Orders replied before surveys existed get the survey of their reply.
    for ticket in replied.exclude(surveys__offered_at=F("replied_at")):
        entry = ticket.audit.filter(transition="reply").order_by("-at", "-pk").first()
        if entry is not None:
            services.survey_offer(ticket=ticket, reply_entry_id=entry.pk, now=entry.at)
    if not Survey.objects.filter(ticket__in=orders, answered_at__isnull=False).exists():
        ticket = replied.filter(surveys__answered_at__isnull=True).first()
        if ticket is not None:
            services.survey_answer(
                link=StatusLink.objects.get(ticket=ticket),
                resolved=True,
                satisfaction=Satisfaction.SATISFIED,
                comment="师傅上门很及时，网速已恢复，谢谢！",
                now=now,
            )
    lines = ["Status pages of demo orders (no login):"]
    for state in (State.REPLIED, State.SUSPENDED, State.ACCEPTED, State.CLOSED):
        ticket = orders.filter(state=state).order_by("number").first()
        if ticket is not None:
            lines.append(f"  {ticket.number} ({state}): {services.status_url_for(ticket)}")
    return lines


def seed_sms_demo(*, users: dict | None = None, now: datetime | None = None) -> list[str]:
    """The demo orders' texts to their customers go out now (file backend by default: one JSON
    line each under SMS_FILE_DIR), through the outbox like live ones. They tell of events of
    the past days, so the rules for live texts — quiet hours and the daily cap — are lifted
    for this run. Idempotent: texts sent already are not sent again."""
    from django.conf import settings
    from django.test.utils import override_settings

    from notifications.models import Channel, Delivery, DeliveryStatus
    from notifications.outbox import outbox_relay

    with override_settings(SMS_QUIET_HOURS="", SMS_DAILY_CAP=0):
        while outbox_relay().more:
            pass
    sms = Delivery.objects.filter(channel=Channel.SMS, ticket__in=_demo_orders())
    sent = sms.filter(status=DeliveryStatus.SENT).count()
    return [
        f"Texts to the demo orders' customers: {sent} sent ({settings.SMS_BACKEND} backend"
        + (f", {settings.SMS_FILE_DIR})" if settings.SMS_BACKEND == "file" else ")"),
    ]
