from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from workorders.permissions import sees_all_tickets

from .models import DeliveryStatus, Notification, WebhookDelivery


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


# --------------------------------------------------------------------------- delivery health
# What the metrics read of outgoing mail and webhooks. Each answer is one or two indexed
# counts. (Point these two functions at the outbox when mail and webhooks move to one.)

# A notification mail not sent within this window is not counted: Celery's retries for it
# ended long ago, and counting older rows would read the whole table.
EMAIL_WINDOW = timedelta(days=1)


def _emails(now: datetime):
    if not settings.NOTIFY_EMAIL:
        return Notification.objects.none()
    return Notification.objects.filter(
        created_at__gte=now - EMAIL_WINDOW, emailed_at__isnull=True
    ).exclude(recipient__email="")


def outbox_backlog(*, now: datetime | None = None) -> dict[str, int]:
    """Messages waiting to go out, by channel: webhook deliveries still pending (retries
    included) and notification mails of the last day not sent yet."""
    now = now or timezone.now()
    return {
        "email": _emails(now).count(),
        "webhook": WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count(),
    }


def deliveries_failed(*, now: datetime | None = None) -> dict[str, int]:
    """Messages that failed, by channel: webhook deliveries given up on, and notification
    mails of the last day whose sending failed and that are not sent yet."""
    now = now or timezone.now()
    return {
        "email": _emails(now).exclude(email_error="").count(),
        "webhook": WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).count(),
    }
