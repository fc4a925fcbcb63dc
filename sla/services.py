"""Clock operations. Called only from the workflow services, inside their transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from .models import Clock, ClockKind, Outcome, SlaPolicy

MAX_LEVEL = 12


def _policy(kind: str, urgency: str) -> SlaPolicy:
    return SlaPolicy.objects.get(kind=kind, urgency=urgency)


def _refresh_marks(clock: Clock) -> None:
    """Recompute the at-risk instant and the next threshold from the stored due time."""
    allowed = timedelta(seconds=clock.allowed_seconds)
    base = clock.due_at - allowed  # the start, shifted by pauses
    clock.risk_at = base + allowed * (clock.policy.chase_percent / 100)
    if not clock.is_running or clock.paused_at is not None or clock.level >= MAX_LEVEL:
        clock.next_threshold_at = None
    else:
        pct = clock.policy.threshold_percent(clock.level + 1)
        clock.next_threshold_at = base + allowed * (pct / 100)


def clock_start(
    *, ticket, kind: str, now: datetime, department=None, started_at: datetime | None = None
) -> Clock:
    policy = _policy(kind, ticket.urgency)
    start = started_at or now
    due = start + policy.target
    clock = Clock(
        ticket=ticket,
        kind=kind,
        department=department,
        policy=policy,
        started_at=start,
        target_seconds=int(policy.target.total_seconds()),
        original_due_at=due,
        due_at=due,
        risk_at=due,
    )
    _refresh_marks(clock)
    clock.save()
    if kind == ClockKind.PROMISE:
        ticket.promise_clock = clock
        ticket.promise_due_at = clock.due_at
    return clock


def running(ticket, kind: str) -> QuerySet[Clock]:
    return Clock.objects.filter(ticket=ticket, kind=kind, stopped_at__isnull=True, voided=False)


def _sync_ticket(ticket, clock: Clock) -> None:
    if clock.kind == ClockKind.PROMISE:
        ticket.promise_clock = clock
        ticket.promise_due_at = clock.due_at


def clock_stop(*, ticket, kind: str, now: datetime) -> Clock | None:
    clock = running(ticket, kind).first()
    if clock is None:
        return None
    if clock.paused_at is not None:
        _resume(clock, now)
    clock.stopped_at = now
    clock.outcome = Outcome.MET if now <= clock.due_at else Outcome.MISSED
    clock.outcome_original = Outcome.MET if now <= clock.original_due_at else Outcome.MISSED
    _refresh_marks(clock)
    clock.save()
    _sync_ticket(ticket, clock)
    return clock


def clock_void(*, ticket, kind: str | None = None, now: datetime) -> int:
    qs = Clock.objects.filter(ticket=ticket, stopped_at__isnull=True, voided=False)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.update(voided=True, stopped_at=now, next_threshold_at=None, paused_at=None)


def clock_pause(*, ticket, kind: str, now: datetime) -> Clock | None:
    clock = running(ticket, kind).first()
    if clock is None or clock.paused_at is not None:
        return clock
    clock.paused_at = now
    _refresh_marks(clock)
    clock.save()
    return clock


def _resume(clock: Clock, now: datetime) -> None:
    span = max(now - clock.paused_at, timedelta(0))
    secs = int(span.total_seconds())
    span = timedelta(seconds=secs)
    clock.paused_seconds += secs
    clock.original_due_at += span
    clock.due_at += span
    clock.paused_at = None


def clock_resume(*, ticket, kind: str, now: datetime) -> Clock | None:
    clock = running(ticket, kind).first()
    if clock is None or clock.paused_at is None:
        return clock
    _resume(clock, now)
    _refresh_marks(clock)
    clock.save()
    _sync_ticket(ticket, clock)
    return clock


def clock_reopen(*, ticket, kind: str, now: datetime, count_gap_as_paused: bool) -> Clock | None:
    """Undo the stop of the latest clock of `kind` (reject_reply, redo).

    reject_reply: the stop is void and the time waiting counts as paused.
    redo: the clock simply runs on from its start; a non-solution does not meet the promise.
    """
    clock = (
        Clock.objects.filter(ticket=ticket, kind=kind, voided=False, stopped_at__isnull=False)
        .order_by("-stopped_at", "-id")
        .first()
    )
    if clock is None:
        return None
    if count_gap_as_paused:
        gap = int(max(now - clock.stopped_at, timedelta(0)).total_seconds())
        clock.paused_seconds += gap
        clock.original_due_at += timedelta(seconds=gap)
        clock.due_at += timedelta(seconds=gap)
    clock.stopped_at = None
    clock.outcome = ""
    clock.outcome_original = ""
    _refresh_marks(clock)
    clock.save()
    _sync_ticket(ticket, clock)
    return clock


def clock_extend(*, clock: Clock, seconds: int) -> Clock:
    """An approved extension moves the effective due time; the original stays for reporting."""
    clock.extended_seconds += seconds
    clock.due_at += timedelta(seconds=seconds)
    _refresh_marks(clock)
    clock.save()
    return clock


def clocks_retarget(*, ticket, now: datetime) -> list[tuple[Clock, datetime, datetime]]:
    """Urgency changed: recompute every running clock's due time from its start under the new
    urgency's policy (report time for dispatch and promise). Returns (clock, old, new) dues."""
    changed = []
    for clock in Clock.objects.filter(ticket=ticket, stopped_at__isnull=True, voided=False):
        policy = _policy(clock.kind, ticket.urgency)
        old_due = clock.due_at
        clock.policy = policy
        clock.target_seconds = int(policy.target.total_seconds())
        shift = timedelta(seconds=clock.paused_seconds)
        clock.original_due_at = clock.started_at + policy.target + shift
        clock.due_at = clock.original_due_at + timedelta(seconds=clock.extended_seconds)
        clock.level = min(clock.level, _levels_passed(clock, now))
        _refresh_marks(clock)
        clock.save()
        _sync_ticket(ticket, clock)
        changed.append((clock, old_due, clock.due_at))
    return changed


def _levels_passed(clock: Clock, now: datetime) -> int:
    allowed = timedelta(seconds=clock.allowed_seconds)
    base = clock.due_at - allowed
    level = 0
    while (
        level < MAX_LEVEL
        and base + allowed * (clock.policy.threshold_percent(level + 1) / 100) <= now
    ):
        level += 1
    return level
