from datetime import datetime

from django.db.models import Count, QuerySet
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


def _by_channel(qs) -> dict[str, int]:
    counts = dict.fromkeys(Channel.values, 0)
    counts.update(qs.values_list("channel").annotate(n=Count("id")).order_by())
    return counts


def outbox_backlog_by_channel(*, now: datetime | None = None) -> dict[str, int]:
    """For the metrics: `outbox_backlog` of every channel, in one query."""
    return _by_channel(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now()
        )
    )


def deliveries_failed_by_channel() -> dict[str, int]:
    """For the metrics: `deliveries_failed` of every channel, in one query."""
    return _by_channel(Delivery.objects.filter(status=DeliveryStatus.FAILED))
