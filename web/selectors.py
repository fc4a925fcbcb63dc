"""Reads for the phone pages. Visibility always starts from `tickets_visible_to`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.utils import timezone

from workorders.models import OPEN_STATES, Category, CategoryUsage, IdempotencyRecord, Ticket
from workorders.selectors import tickets_visible_to

POPULAR_WINDOW = timedelta(days=90)
# Everybody's counts change slowly and are the same for every user: each process keeps them
# this long in the cache instead of summing the roll-up on every form.
POPULAR_CACHE_SECONDS = 300


def report_categories(user, *, now: datetime) -> list[Category]:
    """Active leaf categories, the ones this user reports most first, then the ones everybody
    reported most lately, then the configured order. Counts come from the monthly roll-up
    (`CategoryUsage`, the months that overlap the last 90 days), never from the orders, so
    the form costs the same at any number of orders."""
    since = timezone.localdate(now - POPULAR_WINDOW).replace(day=1)
    has_children = Category.objects.filter(parent=OuterRef("pk"), is_active=True)
    mine = _usage_counts(CategoryUsage.objects.filter(user=user, month__gte=since))
    key = f"web:report-categories:{since:%Y%m}"
    recent = cache.get(key)
    if recent is None:
        recent = _usage_counts(CategoryUsage.objects.filter(month__gte=since))
        cache.set(key, recent, POPULAR_CACHE_SECONDS)
    categories = list(
        Category.objects.filter(is_active=True)
        .exclude(Exists(has_children))
        .select_related("parent")
    )
    categories.sort(key=lambda c: (-mine.get(c.pk, 0), -recent.get(c.pk, 0), c.sort_order, c.pk))
    return categories


def _usage_counts(rows: QuerySet[CategoryUsage]) -> dict[int, int]:
    return dict(
        rows.values("category").annotate(n=Sum("count")).order_by().values_list("category", "n")
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
