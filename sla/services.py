"""Clock operations (called only from the workflow services, inside their transaction) and the
writes of SLA rules and calendars.

With a calendar a clock counts working time: due = start + (target + extensions + pauses) of
working time, pauses are measured in working time (a pause over a holiday adds nothing) and the
thresholds are fractions of the allowed working time. The due time and the marks are stored
as before, so breach status stays a query and every index keeps working. Without a calendar
every result is exactly the natural-time arithmetic of before.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.statements import RowInsert

from . import reference
from .calendars import WorkCalendar, add_working
from .models import (
    FIRST_RESPONSE_CHANNELS,
    Calendar,
    CalendarDay,
    Clock,
    ClockKind,
    DayKind,
    Outcome,
    SlaPolicy,
)
from .rules import (
    Facts,
    calendar_id_for,
    candidates,
    coverage_error,
    coverage_gaps,
    tier_of,
)

MAX_LEVEL = 12


class NoRule(RuntimeError):
    """No active rule matches (only when the fallback rules were removed behind the services)."""


# ---------------------------------------------------------------------- which rule


def facts_of(ticket) -> Facts:
    category_id = ticket.category_id
    group_id = None
    if category_id and reference.needs_group():
        descriptor = type(ticket).category
        parent = (
            ticket.category.parent_id
            if descriptor.is_cached(ticket)
            else reference.category_parent(category_id)
        )
        group_id = parent or category_id
    return Facts(
        urgency=ticket.urgency,
        channel=ticket.channel,
        category_id=category_id,
        group_id=group_id,
        tier=tier_of(ticket),
    )


def rules_considered(*, kind: str, facts: Facts) -> list[SlaPolicy]:
    """The active rules of `kind` matching `facts`, the winner first."""
    return candidates(reference.active_rules(kind), kind, facts)


def policy_for(*, ticket, kind: str) -> SlaPolicy:
    """The most specific active rule for a clock of `kind` on this order."""
    found = rules_considered(kind=kind, facts=facts_of(ticket))
    if not found:
        raise NoRule(f"no active SLA rule for {kind} / {ticket.urgency}")
    return found[0]


# ---------------------------------------------------------------------- marks


def _calendar(clock: Clock) -> WorkCalendar | None:
    return reference.calendar_of(clock.calendar_id)


def _at(clock: Clock, fraction: float, cal: WorkCalendar | None) -> datetime:
    """The instant `fraction` of the allowed time has run (pauses excluded)."""
    allowed = timedelta(seconds=clock.allowed_seconds)
    if cal is None:
        return clock.due_at - allowed + allowed * fraction
    return cal.add(clock.started_at, timedelta(seconds=clock.paused_seconds) + allowed * fraction)


def threshold_at(clock: Clock, level: int) -> datetime:
    return _at(clock, clock.policy.threshold_percent(level) / 100, _calendar(clock))


def _refresh_marks(clock: Clock) -> None:
    """Recompute the at-risk instant and the next threshold."""
    cal = _calendar(clock)
    clock.risk_at = _at(clock, clock.policy.chase_percent / 100, cal)
    if not clock.is_running or clock.paused_at is not None or clock.level >= MAX_LEVEL:
        clock.next_threshold_at = None
    else:
        pct = clock.policy.threshold_percent(clock.level + 1)
        clock.next_threshold_at = _at(clock, pct / 100, cal)


def _shift(clock: Clock, start: datetime, end: datetime) -> None:
    """Count [start, end) as paused: the due times move by its (working) length."""
    cal = _calendar(clock)
    if cal is None:
        secs = int(max(end - start, timedelta(0)).total_seconds())
        span = timedelta(seconds=secs)
        clock.paused_seconds += secs
        clock.original_due_at += span
        clock.due_at += span
        return
    secs = int(max(cal.between(start, end), timedelta(0)).total_seconds())
    clock.paused_seconds += secs
    clock.original_due_at = cal.add(clock.original_due_at, timedelta(seconds=secs))
    clock.due_at = cal.add(clock.due_at, timedelta(seconds=secs))


# ---------------------------------------------------------------------- clock operations


def clock_start(
    *, ticket, kind: str, now: datetime, department=None, started_at: datetime | None = None
) -> Clock:
    """Start a clock under the most specific rule (kept by the clock for its whole life)."""
    clock = _new_clock(
        ticket=ticket, kind=kind, now=now, department=department, started_at=started_at
    )
    clock.save()
    _sync_ticket(ticket, clock)
    return clock


def clocks_for_report(*, ticket, now: datetime) -> list[Clock]:
    """The clocks a new order starts with (dispatch, promise, and first-response or regulator
    where they apply), not yet saved: the order's promise due time is set from them before the
    order is first written, and the caller inserts them in one statement (`clocks_insert`)."""
    kinds = [ClockKind.DISPATCH, ClockKind.PROMISE]
    if ticket.channel in FIRST_RESPONSE_CHANNELS:
        kinds.append(ClockKind.FIRST_RESPONSE)
    if ticket.is_regulator:
        kinds.append(ClockKind.REGULATOR)
    made = [_new_clock(ticket=ticket, kind=kind, now=now) for kind in kinds]
    ticket.promise_due_at = made[1].due_at
    return made


def clocks_insert(*, ticket, clocks: list[Clock]) -> None:
    """Insert the clocks of `clocks_for_report` (one INSERT) and link the promise clock."""
    for clock in clocks:
        clock.ticket = ticket
    CLOCK_INSERT.insert(clocks)
    for clock in clocks:
        _sync_ticket(ticket, clock)


# Every report inserts its clocks: a statement written once per process.
CLOCK_INSERT = RowInsert(Clock)


def _new_clock(
    *, ticket, kind: str, now: datetime, department=None, started_at: datetime | None = None
) -> Clock:
    policy = policy_for(ticket=ticket, kind=kind)
    calendar_id = calendar_id_for(kind=kind, policy=policy, department=department)
    start = started_at or now
    due = add_working(reference.calendar_of(calendar_id), start, policy.target)
    clock = Clock(
        ticket=ticket,
        kind=kind,
        department=department,
        policy=policy,
        calendar_id=calendar_id,
        started_at=start,
        target_seconds=int(policy.target.total_seconds()),
        original_due_at=due,
        due_at=due,
        risk_at=due,
    )
    _refresh_marks(clock)
    return clock


def first_response_start(*, ticket, now: datetime) -> Clock | None:
    """Orders from online channels (online, app, social) run a first-response clock from the
    report."""
    if ticket.channel not in FIRST_RESPONSE_CHANNELS:
        return None
    return clock_start(ticket=ticket, kind=ClockKind.FIRST_RESPONSE, now=now)


def first_response_stop(*, ticket, now: datetime) -> Clock | None:
    """The first response is the dispatch: the first step a person (or a routing rule) takes
    for the customer. Claim and reply come later, so they never stop it first."""
    if ticket.channel not in FIRST_RESPONSE_CHANNELS:
        return None
    return clock_stop(ticket=ticket, kind=ClockKind.FIRST_RESPONSE, now=now)


def regulator_start(*, ticket, now: datetime) -> Clock | None:
    """The statutory clock of a regulator complaint (once per order)."""
    if not ticket.is_regulator or running(ticket, ClockKind.REGULATOR).exists():
        return None
    return clock_start(ticket=ticket, kind=ClockKind.REGULATOR, now=now)


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
    _shift(clock, clock.paused_at, now)
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
        _shift(clock, clock.stopped_at, now)
    clock.stopped_at = None
    clock.outcome = ""
    clock.outcome_original = ""
    _refresh_marks(clock)
    clock.save()
    _sync_ticket(ticket, clock)
    return clock


def clock_extend(*, clock: Clock, seconds: int) -> Clock:
    """An approved extension moves the effective due time (by working time on a calendar
    clock); the original stays for reporting."""
    clock.extended_seconds += seconds
    clock.due_at = add_working(_calendar(clock), clock.due_at, timedelta(seconds=seconds))
    _refresh_marks(clock)
    clock.save()
    return clock


def clocks_retarget(*, ticket, now: datetime) -> list[tuple[Clock, datetime, datetime]]:
    """Urgency changed: recompute every running clock's due time from its start under the rule
    that now applies (report time for dispatch and promise). Returns (clock, old, new) dues."""
    changed = []
    clocks = Clock.objects.filter(ticket=ticket, stopped_at__isnull=True, voided=False)
    for clock in clocks.select_related("department"):
        policy = policy_for(ticket=ticket, kind=clock.kind)
        old_due = clock.due_at
        clock.policy = policy
        clock.calendar_id = calendar_id_for(
            kind=clock.kind, policy=policy, department=clock.department
        )
        cal = _calendar(clock)
        clock.target_seconds = int(policy.target.total_seconds())
        shift = timedelta(seconds=clock.paused_seconds)
        clock.original_due_at = add_working(cal, clock.started_at, policy.target + shift)
        clock.due_at = add_working(
            cal, clock.original_due_at, timedelta(seconds=clock.extended_seconds)
        )
        clock.level = min(clock.level, _levels_passed(clock, now))
        _refresh_marks(clock)
        clock.save()
        _sync_ticket(ticket, clock)
        changed.append((clock, old_due, clock.due_at))
    return changed


def _levels_passed(clock: Clock, now: datetime) -> int:
    allowed = timedelta(seconds=clock.allowed_seconds)
    cal = _calendar(clock)
    level = 0
    if cal is None:
        base = clock.due_at - allowed
        while (
            level < MAX_LEVEL
            and base + allowed * (clock.policy.threshold_percent(level + 1) / 100) <= now
        ):
            level += 1
        return level
    # A threshold at start + pauses + f × allowed (working time) has passed exactly when that
    # much working time has run by `now`: one calendar walk per clock, not one per level.
    ran = cal.between(clock.started_at, now) - timedelta(seconds=clock.paused_seconds)
    while level < MAX_LEVEL and allowed * (clock.policy.threshold_percent(level + 1) / 100) <= ran:
        level += 1
    return level


# ---------------------------------------------------------------------- rule writes

RULE_FIELDS = (
    "kind",
    *SlaPolicy.DIMENSIONS,
    "target_minutes",
    "remind_percent",
    "chase_percent",
    "escalate_every_percent",
    "calendar",
    "note",
)


def _rule_values(rule: SlaPolicy) -> tuple:
    return tuple(getattr(rule, rule._meta.get_field(f).attname) for f in RULE_FIELDS)


def _lock_rules() -> list[SlaPolicy]:
    """Rule edits are serialised (two superusers saving overlapping rules at once would each
    pass the overlap check): lock the active rules, which every edit reads."""
    return list(SlaPolicy.objects.select_for_update().filter(active=True).order_by("pk"))


@transaction.atomic
def sla_rule_save(*, rule: SlaPolicy, by=None, now: datetime | None = None) -> SlaPolicy:
    """Save a rule. An edit never changes the row clocks point to: it retires that version and
    saves a new one (same lineage, version + 1), so running clocks keep their rule."""
    now = now or timezone.now()
    _lock_rules()
    previous = None
    if rule.pk:
        previous = SlaPolicy.objects.get(pk=rule.pk)
        if not previous.active:
            raise ValidationError(
                _("这是已停用的旧版本，不能修改；请修改现行版本。"), code="retired"
            )
        if _rule_values(previous) == _rule_values(rule):
            return previous
        rule.pk = None
        rule._state.adding = True
        rule.lineage = previous.lineage
        rule.version = previous.version + 1
        rule.created_at = now
    rule.active = True
    rule.retired_at = None
    rule.full_clean()  # overlap and fallback coverage: sla.rules.validate_rule
    if previous is not None:
        SlaPolicy.objects.filter(pk=previous.pk).update(active=False, retired_at=now)
    rule.save()
    reference.invalidate()
    return rule


@transaction.atomic
def sla_rule_retire(*, rule: SlaPolicy, by=None, now: datetime | None = None) -> SlaPolicy:
    """Stop matching a rule (its clocks keep it). Refused when it is the last fallback of a
    kind and urgency."""
    active = _lock_rules()
    if not any(r.pk == rule.pk for r in active):
        return rule
    gaps = coverage_gaps([r for r in active if r.pk != rule.pk])
    if gaps:
        raise coverage_error(gaps)
    rule.active = False
    rule.retired_at = now or timezone.now()
    SlaPolicy.objects.filter(pk=rule.pk).update(active=False, retired_at=rule.retired_at)
    reference.invalidate()
    return rule


# ---------------------------------------------------------------------- calendars


class HolidaySourceError(ValueError):
    """The holiday package does not know the year asked for."""


def china_holidays(year: int) -> list[tuple[date, str, str]]:
    """(date, kind, name) of China's statutory holidays and make-up working days in `year`,
    from the `chinese-calendar` package (the State Council's yearly arrangement)."""
    import chinese_calendar

    try:
        chinese_calendar.is_holiday(date(year, 1, 1))
    except NotImplementedError:
        known = sorted({d.year for d in chinese_calendar.holidays})
        raise HolidaySourceError(
            _(
                "chinese-calendar %(version)s 没有 %(year)s 年的放假安排"
                "(只有 %(first)s–%(last)s 年)："
                "请升级该软件包，或在后台手工录入节假日与调休。"
            )
            % {
                "version": getattr(chinese_calendar, "__version__", "?"),
                "year": year,
                "first": known[0],
                "last": known[-1],
            }
        ) from None

    def name(english: str) -> str:
        try:
            return chinese_calendar.Holiday(english).chinese
        except ValueError:
            return english

    rows = [
        (d, DayKind.HOLIDAY, name(n))
        for d, n in chinese_calendar.holidays.items()
        if d.year == year
    ]
    rows += [
        (d, DayKind.WORKDAY, name(n))
        for d, n in chinese_calendar.workdays.items()
        if d.year == year
    ]
    return sorted(rows)


@transaction.atomic
def calendar_load_holidays(*, calendar: Calendar, year: int) -> tuple[int, int]:
    """Load China's holidays and make-up working days of `year` into `calendar`. Days already
    entered for that year are replaced by the official ones only where the package has a day;
    days entered by hand on other dates stay. Returns (holidays, make-up days)."""
    rows = china_holidays(year)
    for day, kind, name in rows:
        CalendarDay.objects.update_or_create(
            calendar=calendar, date=day, defaults={"kind": kind, "name": name}
        )
    reference.invalidate()
    return (
        sum(1 for _d, k, _n in rows if k == DayKind.HOLIDAY),
        sum(1 for _d, k, _n in rows if k == DayKind.WORKDAY),
    )
