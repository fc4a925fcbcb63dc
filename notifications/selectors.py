from django.db.models import QuerySet

from workorders.permissions import sees_all_tickets

from .models import Notification


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
