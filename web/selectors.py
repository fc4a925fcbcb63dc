"""Reads for the phone pages. Visibility always starts from `tickets_visible_to`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from workorders.models import OPEN_STATES, Category, IdempotencyRecord, Ticket
from workorders.selectors import tickets_visible_to

POPULAR_WINDOW = timedelta(days=90)


def report_categories(user, *, now: datetime) -> list[Category]:
    """Active leaf categories, the ones this user reports most first, then the ones everybody
    reported most lately, then the configured order."""
    since = now - POPULAR_WINDOW
    has_children = Category.objects.filter(parent=OuterRef("pk"), is_active=True)
    return list(
        Category.objects.filter(is_active=True)
        .exclude(Exists(has_children))
        .select_related("parent")
        .annotate(
            mine=Count(
                "tickets", filter=Q(tickets__reporter=user, tickets__reported_at__gte=since)
            ),
            recent=Count("tickets", filter=Q(tickets__reported_at__gte=since)),
        )
        .order_by("-mine", "-recent", "sort_order", "id")
    )


def my_reported(user, *, status: str = "", now: datetime) -> QuerySet[Ticket]:
    """The orders this user reported, newest first, with the promise status and time left."""
    qs = tickets_visible_to(user).filter(reporter=user)
    if status == "open":
        qs = qs.open()
    elif status == "closed":
        qs = qs.exclude(state__in=OPEN_STATES)
    return (
        qs.with_sla(now=now)
        .select_related("department", "category", "category__parent")
        .order_by("-reported_at", "-id")
    )


def order_for_form_key(user, key: str) -> Ticket | None:
    """The order a report form's one-time key already produced (for a changed resubmit)."""
    record = (
        IdempotencyRecord.objects.filter(user=user, key=key, ticket__isnull=False)
        .select_related("ticket")
        .first()
    )
    return record.ticket if record else None
