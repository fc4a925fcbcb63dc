from django.db.models import QuerySet

from .models import Notification


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("ticket")


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
