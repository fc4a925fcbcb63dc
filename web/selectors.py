"""Reads for the phone pages. Visibility always starts from `tickets_visible_to`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from workorders.models import (
    OPEN_STATES,
    Category,
    CategoryUsage,
    IdempotencyRecord,
    RedoProposal,
    RequestStatus,
    State,
    Ticket,
)
from workorders.permissions import may
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


def _mine(user, status: str) -> QuerySet[Ticket]:
    qs = tickets_visible_to(user).filter(reporter=user)
    if status == "open":
        qs = qs.open()
    elif status == "closed":
        qs = qs.exclude(state__in=OPEN_STATES)
    elif status == "confirm":
        qs = _awaiting_verdict(user, qs)
    return qs


def _awaiting_verdict(user, qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Replied orders among `qs` waiting for this user's on-the-spot verdict: none unless the
    user may record one (the domain's right for `close`), and not those whose verdict already
    went to a supervisor as a redo request, nor regulator complaints still awaiting the
    supervisor's sign-off (they cannot close before it)."""
    if not may(user, "close"):
        return qs.none()
    pending = RedoProposal.objects.filter(ticket=OuterRef("pk"), status=RequestStatus.PENDING)
    return (
        qs.filter(state=State.REPLIED)
        .exclude(Exists(pending))
        .awaiting_regulator_signoff(negate=True)
    )


def my_reported(user, *, status: str = "", now: datetime) -> QuerySet[Ticket]:
    """The orders this user reported, newest first, with the promise status and time left;
    `status="confirm"`: the replied ones awaiting the user's verdict (待我确认), oldest reply
    first."""
    qs = _mine(user, status)
    order = ("replied_at", "id") if status == "confirm" else ("-reported_at", "-id")
    return (
        qs.with_sla(now=now)
        # A suspended order's countdown stands still (web/countdown.js leaves it alone).
        .annotate(sla_paused_at=F("promise_clock__paused_at"))
        .select_related("department", "category", "category__parent")
        .order_by(*order)
    )


def my_reported_fingerprint(user, *, status: str = "") -> tuple:
    """What the list `my_reported` shows changes only with one of these (any write to an order
    moves its version and `updated_at`; an extension moves its due time): one query, however
    many orders, for the list's ETag."""
    row = (
        _mine(user, status)
        .order_by()
        .aggregate(n=Count("id"), v=Sum("version"), u=Max("updated_at"), d=Max("promise_due_at"))
    )
    return (row["n"], row["v"], row["u"], row["d"])


def order_for_form_key(user, key: str) -> Ticket | None:
    """The order a report form's one-time key already produced (for a changed resubmit)."""
    record = (
        IdempotencyRecord.objects.filter(user=user, key=key, ticket__isnull=False)
        .select_related("ticket")
        .first()
    )
    return record.ticket if record else None


def notifications_fingerprint(user) -> tuple:
    """What the notification list shows changes only with one of these: one query."""
    from notifications.selectors import notifications_for

    row = (
        notifications_for(user)
        .order_by()
        .aggregate(
            n=Count("id"),
            last=Max("id"),
            unread=Count("id", filter=Q(read_at__isnull=True)),
            read=Max("read_at"),
        )
    )
    return (row["n"], row["last"], row["unread"], row["read"])
