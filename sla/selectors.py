"""SLA reads. Status and remaining time are computed in SQL from stored due times."""

from __future__ import annotations

from django.db.models import (
    Case,
    CharField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import SlaStatus


def sla_status_expression(prefix: str, now):
    """A CASE expression for the status of the clock at `prefix` (e.g. "promise_clock__")."""
    ref = Coalesce(F(f"{prefix}paused_at"), Value(now))
    return Case(
        When(**{f"{prefix}voided": True}, then=Value(None)),
        When(**{f"{prefix}outcome": "met"}, then=Value(SlaStatus.MET.value)),
        When(**{f"{prefix}outcome": "missed"}, then=Value(SlaStatus.MISSED.value)),
        When(**{f"{prefix}due_at__lt": ref}, then=Value(SlaStatus.BREACHED.value)),
        When(**{f"{prefix}risk_at__lte": ref}, then=Value(SlaStatus.AT_RISK.value)),
        When(**{f"{prefix}due_at__isnull": False}, then=Value(SlaStatus.ON_TRACK.value)),
        default=Value(None),
        output_field=CharField(),
    )


def annotate_sla_status(qs: QuerySet, *, now=None) -> QuerySet:
    """Annotate orders with `sla_status` and `sla_remaining` (a duration; negative when
    overdue, frozen while suspended, null once the promise clock has stopped)."""
    now = now or timezone.now()
    ref = Coalesce(F("promise_clock__paused_at"), Value(now))
    return qs.annotate(
        sla_status=sla_status_expression("promise_clock__", now),
        sla_remaining=Case(
            When(
                Q(promise_clock__stopped_at__isnull=True, promise_clock__voided=False),
                then=ExpressionWrapper(F("promise_clock__due_at") - ref, DurationField()),
            ),
            default=Value(None),
            output_field=DurationField(),
        ),
    )


def filter_sla_status(qs: QuerySet, status: str, *, now=None) -> QuerySet:
    """Filter orders by promise status with plain range predicates (index-friendly)."""
    now = now or timezone.now()
    p = "promise_clock__"
    running = Q(**{f"{p}stopped_at__isnull": True, f"{p}voided": False})
    ref = Coalesce(F(f"{p}paused_at"), Value(now))
    if status == SlaStatus.MET:
        return qs.filter(**{f"{p}outcome": "met", f"{p}voided": False})
    if status == SlaStatus.MISSED:
        return qs.filter(**{f"{p}outcome": "missed", f"{p}voided": False})
    if status == SlaStatus.BREACHED:
        return qs.filter(running, **{f"{p}due_at__lt": ref})
    if status == SlaStatus.AT_RISK:
        return qs.filter(running, **{f"{p}due_at__gte": ref, f"{p}risk_at__lte": ref})
    if status == SlaStatus.ON_TRACK:
        return qs.filter(running, **{f"{p}risk_at__gt": ref})
    return qs.none()


def clock_met_counts(clocks: QuerySet) -> tuple[int, int]:
    """(met, stopped) over stopped, non-voided clocks: 派单及时率 / 签收及时率 in SQL."""
    from django.db.models import Count

    agg = clocks.filter(stopped_at__isnull=False, voided=False).aggregate(
        met=Count("id", filter=Q(outcome="met")), stopped=Count("id")
    )
    return agg["met"], agg["stopped"]


def on_time_closure_counts(tickets: QuerySet, *, original: bool = True) -> tuple[int, int]:
    """(closed with the promise met, closed) for 限时办结率; against the original due time by
    default, or the effective one (with approved extensions)."""
    from django.db.models import Count

    field = "promise_clock__outcome_original" if original else "promise_clock__outcome"
    agg = tickets.filter(state="closed").aggregate(
        met=Count("id", filter=Q(**{field: "met"})), closed=Count("id")
    )
    return agg["met"], agg["closed"]
