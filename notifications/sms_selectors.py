"""Reads with a rule about the customers' texts: an order's texts for staff who may see the
order, with the number in full only for those allowed to see it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from workorders.permissions import can_see_full_phone, mask_phone

from .models import Channel, Delivery, DeliveryStatus, ReceiptStatus, SmsEvent


def ticket_customer_messages(ticket) -> QuerySet[Delivery]:
    """The texts to the order's customer, oldest first (the caller checked that the user may
    see the order)."""
    return Delivery.objects.filter(channel=Channel.SMS, ticket=ticket).order_by("created_at", "id")


def shown_phone(user, ticket, phone: str) -> str:
    if user is not None and user.is_authenticated and can_see_full_phone(user, ticket):
        return phone
    return mask_phone(phone)


def event_label(delivery: Delivery) -> str:
    kind = delivery.payload.get("event", delivery.kind)
    return str(SmsEvent(kind).label) if kind in SmsEvent.values else kind


def status_text(delivery: Delivery) -> str:
    """待发送 / 已发送 · 已送达 / 发送失败: HTTP 400 / 未发送: 客户已退订 …"""
    parts = [str(DeliveryStatus(delivery.status).label)]
    if delivery.receipt_status:
        parts.append(str(ReceiptStatus(delivery.receipt_status).label))
    if delivery.receipt_error:
        parts.append(delivery.receipt_error)
    elif delivery.last_error and delivery.status != DeliveryStatus.SENT:
        parts.append(delivery.last_error)
    return " · ".join(parts)


def customer_message_row(delivery: Delivery, *, user, ticket) -> dict:
    """One text as the timeline, the admin and the API show it."""
    return {
        "at": delivery.created_at,
        "event": delivery.payload.get("event", delivery.kind),
        "event_label": event_label(delivery),
        "to": shown_phone(user, ticket, delivery.address),
        "text": delivery.payload.get("text", ""),
        "template": delivery.payload.get("template", ""),
        "segments": delivery.segments,
        "coalesced": delivery.payload.get("coalesced", []),
        "status": delivery.status,
        "status_text": status_text(delivery),
        "attempts": delivery.attempts,
        "sent_at": delivery.sent_at,
        "error": delivery.last_error,
        "receipt_status": delivery.receipt_status,
        "receipt_at": delivery.receipt_at,
        "receipt_error": delivery.receipt_error,
    }


def ticket_customer_messages_timeline(ticket, user) -> list[dict]:
    """客户短信 on the order's timeline (whoever sees the order sees its texts)."""
    items = []
    for d in ticket_customer_messages(ticket):
        row = customer_message_row(d, user=user, ticket=ticket)
        text = _("%(event)s → %(to)s（%(status)s）：%(text)s") % {
            "event": row["event_label"],
            "to": row["to"],
            "status": row["status_text"],
            "text": row["text"],
        }
        items.append(
            {"at": d.created_at, "type": "customer_message", "actor": None, "text": text, "obj": d}
        )
    return items
