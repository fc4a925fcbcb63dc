from django.utils import timezone

from .models import Notification


def notification_mark_read(*, user, ids=None, now=None) -> int:
    """Mark the user's notifications read (all unread ones when `ids` is None)."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=now or timezone.now())
