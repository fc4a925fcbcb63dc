from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from workorders.permissions import sees_all_tickets

from .models import Channel, Delivery, DeliveryStatus, Notification


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("ticket")


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def ticket_notifications_timeline(ticket, user) -> list[dict]:
    """Notifications about an order on its timeline: the user's own, unless they see all."""
    notes = Notification.objects.filter(ticket=ticket).select_related("recipient")
    if user is not None and not sees_all_tickets(user):
        notes = notes.filter(recipient=user)
    return [
        {
            "at": n.created_at,
            "type": "notification",
            "actor": None,
            "text": n.shown_title,
            "obj": n,
        }
        for n in notes
    ]


def outbox_backlog(*, now: datetime | None = None, channel: str | None = None) -> int:
    """Deliveries waiting to be sent that are due now (not in flight under a claim, not
    waiting for a retry): what a relay should be sending. Grows while no relay runs."""
    qs = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now()
    )
    if channel:
        qs = qs.filter(channel=channel)
    return qs.count()


def deliveries_failed(*, channel: str | None = None) -> int:
    """Deliveries given up on (attempts exhausted, or nowhere to send them)."""
    qs = Delivery.objects.filter(status=DeliveryStatus.FAILED)
    if channel:
        qs = qs.filter(channel=channel)
    return qs.count()


def outbox_backlog_by_channel(*, now: datetime | None = None) -> dict[str, int]:
    """For the metrics: `outbox_backlog` of each channel."""
    return {c: outbox_backlog(now=now, channel=c) for c in Channel.values}


def deliveries_failed_by_channel() -> dict[str, int]:
    return {c: deliveries_failed(channel=c) for c in Channel.values}
