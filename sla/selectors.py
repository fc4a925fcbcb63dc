"""SLA reads. Status and remaining time are computed in SQL from stored due times."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .calendars import working_delta
from .models import Clock, SlaStatus
from .reference import calendar_of


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
    """Annotate orders with `sla_status`, `sla_remaining` (a wall-clock duration; negative
    when overdue, frozen while suspended, null once the promise clock has stopped) and
    `sla_calendar_id` (the promise clock's calendar: see `promise_remaining`)."""
    now = now or timezone.now()
    ref = Coalesce(F("promise_clock__paused_at"), Value(now))
    return qs.annotate(
        sla_calendar_id=F("promise_clock__calendar_id"),
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


def promise_remaining(ticket) -> tuple[timedelta | None, bool]:
    """(time left, counts working time) of an order annotated by `annotate_sla_status`: a
    clock on a business calendar has its wall-clock `sla_remaining` turned into working time
    (from the same reference instant, so a suspended order stays frozen)."""
    remaining = getattr(ticket, "sla_remaining", None)
    calendar_id = getattr(ticket, "sla_calendar_id", None)
    if remaining is None or not calendar_id or ticket.promise_due_at is None:
        return remaining, False
    due = ticket.promise_due_at
    return working_delta(calendar_of(calendar_id), due - remaining, due), True


def clock_rule_text(clock) -> str:
    """Which rule gives this clock its target and why, and what time it counts (for the order
    page): read from the per-process copy, no query per clock."""
    from django.utils.translation import get_language, pgettext

    from .reference import rule
    from .rules import explain

    policy = rule(clock.policy_id)
    cal = calendar_of(clock.calendar_id)
    # Kept on the copy's rule instance, per calendar and language: a change to a rule or a
    # calendar replaces the copy, and the texts with it.
    texts = policy.__dict__.setdefault("_rule_texts", {})
    key = (clock.calendar_id, get_language())
    text = texts.get(key)
    if text is not None:
        return text
    if cal is None:
        text = explain(policy)
    else:
        own = clock.calendar_id != policy.calendar_id  # a sign-for clock on its department's
        source = pgettext("calendar source", "部门") if own else pgettext("calendar source", "规则")
        text = explain(policy, calendar_name=cal.name, calendar_source=source)
    texts[key] = text
    return text


def sla_status_q(status: str, now: datetime | None = None, prefix: str = "promise_clock__") -> Q:
    """Orders whose promise clock has this status, as plain range predicates: split on whether
    the clock is paused so that each branch compares a column with a constant (or with another
    column of the same row) instead of with COALESCE(paused_at, now). The unpaused branch runs
    on the partial index clock_running_due, the paused one on clock_running_paused.
    tests/sla/test_sla_status.py checks it selects exactly what `sla_status_expression` says."""
    now = now or timezone.now()
    p = prefix
    running = Q(**{f"{p}stopped_at__isnull": True, f"{p}voided": False})
    unpaused = Q(**{f"{p}paused_at__isnull": True})
    paused = Q(**{f"{p}paused_at__isnull": False})
    at_pause = F(f"{p}paused_at")
    if status in (SlaStatus.MET, SlaStatus.MISSED):
        return Q(**{f"{p}outcome": status, f"{p}voided": False})
    if status == SlaStatus.BREACHED:
        return running & (
            (unpaused & Q(**{f"{p}due_at__lt": now})) | (paused & Q(**{f"{p}due_at__lt": at_pause}))
        )
    if status == SlaStatus.AT_RISK:
        return running & (
            (unpaused & Q(**{f"{p}due_at__gte": now, f"{p}risk_at__lte": now}))
            | (paused & Q(**{f"{p}due_at__gte": at_pause, f"{p}risk_at__lte": at_pause}))
        )
    if status == SlaStatus.ON_TRACK:
        return running & (
            (unpaused & Q(**{f"{p}risk_at__gt": now}))
            | (paused & Q(**{f"{p}risk_at__gt": at_pause}))
        )
    return Q(pk__in=[])


def filter_sla_status(qs: QuerySet, status: str, *, now=None) -> QuerySet:
    """Filter orders by promise status (index-friendly; see `sla_status_q`)."""
    return qs.filter(sla_status_q(status, now))


def clock_stopped_q(prefix: str = "") -> Q:
    """Stopped, non-voided clocks (the denominator of 派单及时率 / 签收及时率)."""
    return Q(**{f"{prefix}stopped_at__isnull": False, f"{prefix}voided": False})


def clock_met_q(prefix: str = "") -> Q:
    """Stopped clocks that met their (effective) due time."""
    return clock_stopped_q(prefix) & Q(**{f"{prefix}outcome": "met"})


def clock_met_counts(clocks: QuerySet) -> tuple[int, int]:
    """(met, stopped) over stopped, non-voided clocks: 派单及时率 / 签收及时率 in SQL."""
    from django.db.models import Count

    agg = clocks.filter(clock_stopped_q()).aggregate(
        met=Count("id", filter=clock_met_q()), stopped=Count("id")
    )
    return agg["met"], agg["stopped"]


def promise_met_q(*, original: bool = True, prefix: str = "") -> Q:
    """The order's promise was met, against the original due time by default or the
    effective one (with approved extensions). Combine with state=closed for 限时办结率."""
    field = "promise_clock__outcome_original" if original else "promise_clock__outcome"
    return Q(**{f"{prefix}{field}": "met"})


def on_time_closure_counts(tickets: QuerySet, *, original: bool = True) -> tuple[int, int]:
    """(closed with the promise met, closed) for 限时办结率; against the original due time by
    default, or the effective one (with approved extensions)."""
    from django.db.models import Count

    agg = tickets.filter(state="closed").aggregate(
        met=Count("id", filter=promise_met_q(original=original)), closed=Count("id")
    )
    return agg["met"], agg["closed"]


class NetSeconds(Func):
    """Net running seconds of a stopped clock: stop − start − paused (DESIGN.md §6, net
    handling time), as a float in SQL. `prefix` points at the clock (e.g. "promise_clock__")."""

    output_field = FloatField()

    def __init__(self, prefix: str = "", **extra):
        super().__init__(
            F(f"{prefix}stopped_at"),
            F(f"{prefix}started_at"),
            F(f"{prefix}paused_seconds"),
            **extra,
        )

    def as_sql(self, compiler, connection, **extra):
        parts, params = [], []
        for expr in self.get_source_expressions():
            sql, p = compiler.compile(expr)
            parts.append(sql)
            params.extend(p)
        stop, start, paused = parts
        if connection.vendor == "sqlite":
            sql = f"((julianday({stop}) - julianday({start})) * 86400.0 - {paused})"
        else:
            sql = f"(EXTRACT(EPOCH FROM ({stop} - {start}))::float - {paused})"
        return sql, params


def due_clocks(now: datetime) -> QuerySet[Clock]:
    """Clocks whose next threshold has passed: a range read on the partial index."""
    return Clock.objects.filter(next_threshold_at__lte=now).order_by("next_threshold_at")


def clocks_due_count(now: datetime) -> int:
    """How many clocks the sweep has yet to handle (a range count on the same index)."""
    return due_clocks(now).order_by().count()


def rule_trial(*, kind: str, facts, department=None, now: datetime | None = None) -> dict:
    """Which rule would apply to an order with these facts, and why: every active rule of the
    kind in precedence order, each marked as the winner, a less specific match, or which of
    its dimensions differ; the calendar the clock would count and its due time if started now
    (the admin's "which rule would apply to…" tester)."""
    from django.utils.translation import gettext, pgettext

    from .calendars import add_working
    from .reference import active_rules
    from .rules import calendar_id_for, comma, conditions, matches, mismatches

    now = now or timezone.now()
    rows, winner = [], None
    for r in active_rules(kind):
        if matches(r, facts):
            verdict = (
                gettext("采用：最具体的匹配规则")
                if winner is None
                else gettext("也匹配，但不如采用的规则具体")
            )
            winner = winner or r
        else:
            dims = pgettext("list separator", "、").join(mismatches(r, facts))
            verdict = gettext("不适用：%(dims)s不同") % {"dims": dims}
        rows.append(
            {
                "rule": r,
                "conditions": comma().join(conditions(r)) or gettext("兜底"),
                "verdict": verdict,
                "wins": r is winner,
            }
        )
    calendar_id, source = None, ""
    if winner is not None:
        calendar_id = calendar_id_for(kind=kind, policy=winner, department=department)
        own = calendar_id != winner.calendar_id
        source = pgettext("calendar source", "部门") if own else pgettext("calendar source", "规则")
    cal = calendar_of(calendar_id)
    return {
        "winner": winner,
        "rows": rows,
        "calendar": cal,
        "calendar_source": source,
        "due_if_now": add_working(cal, now, winner.target) if winner else None,
        "now": now,
    }


# Weeks before New Year from which next year's holidays are asked for (the State Council
# publishes the arrangement in the autumn; the holiday package follows with a release).
NEXT_YEAR_WARNING_FROM = (11, 1)


def calendars_missing_holidays(today: date) -> list[tuple[int, list]]:
    """[(year, [calendars that keep statutory holidays but have none in that year])] for this
    year, and from NEXT_YEAR_WARNING_FROM on for next year too: without its holidays such a
    calendar counts every weekday of the year as working time, and promises come due on
    holidays. A calendar with no holidays in any year (round the clock) is left alone. One
    query."""
    from .models import Calendar, DayKind

    years = [today.year]
    if (today.month, today.day) >= NEXT_YEAR_WARNING_FROM:
        years.append(today.year + 1)
    calendars = list(
        Calendar.objects.annotate(
            any_holiday=Count("days", filter=Q(days__kind=DayKind.HOLIDAY)),
            **{
                f"y{y}": Count("days", filter=Q(days__kind=DayKind.HOLIDAY, days__date__year=y))
                for y in years
            },
        ).order_by("name")
    )
    out = []
    for y in years:
        missing = [c for c in calendars if c.any_holiday and not getattr(c, f"y{y}")]
        if missing:
            out.append((y, missing))
    return out
