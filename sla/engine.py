"""The SLA sweep: makes the time limits bite (DESIGN.md §4, issue 3).

Every running, unpaused clock stores the instant of its next threshold (`next_threshold_at`,
kept by `sla.services._refresh_marks`), under a partial index. The sweep reads only the clocks
whose next threshold has passed, in batches, so its cost follows what is due, not what is open.

A clock on a business calendar stores its next threshold in working time too
(`sla.services.threshold_at`); the sweep walks the calendar only for the clocks it claims.

Exactly once: on PostgreSQL a batch is claimed with `SELECT … FOR UPDATE SKIP LOCKED` (two
sweepers never hold the same clock, and a clock's level moves on in the same transaction that
records its events); elsewhere each clock is claimed with a conditional UPDATE on its level.
The unique (clock, level) constraint on events and the unique key of every notification are
the last line of defence.

One sweep at a time: the whole sweep runs under `jobs.locks.run_once`, so a second sweep
started meanwhile (beat firing while a long sweep runs, a hand-run `sla_sweep` command) returns
at once; the job's row records the last completed sweep, which readiness and metrics read.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from jobs.locks import run_once
from notifications.audience import Audience
from notifications.messages import in_every_language, sla_event_text
from notifications.models import WebhookEndpoint
from notifications.services import (
    Event,
    Note,
    notifications_create,
    ticket_payload,
    webhooks_create,
)

from .models import Clock, ClockKind, EventKind, SlaEvent, SlaPolicy
from .selectors import due_clocks
from .services import _levels_passed, _refresh_marks, threshold_at

log = logging.getLogger(__name__)

SUPERVISE_LEVEL = 3
# What the sweep reads of an order (an order row has sixty columns).
TICKET_FIELDS = (
    "id",
    "number",
    "state",
    "urgency",
    "title",
    "description",
    "department__id",
    "department__code",
    "department__parent_id",
    "handler__id",
    "handler__username",
    "handler__is_active",
    "handler__language",
    "handler__email",
    "handler__department_id",
)


def event_kind(level: int) -> str:
    if level == 1:
        return EventKind.REMIND
    if level == 2:
        return EventKind.CHASE
    if level == SUPERVISE_LEVEL:
        return EventKind.SUPERVISE
    return EventKind.ESCALATE


@dataclass
class SweepResult:
    events: int = 0
    late_events: int = 0
    notifications: int = 0
    webhooks: int = 0
    supervised: int = 0
    resumed: int = 0
    auto_closed: int = 0
    batches: int = 0
    # Another sweep was running: this one did nothing (see jobs.locks.run_once).
    skipped: bool = False
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def _update_levels(clocks: list[Clock]) -> None:
    """One UPDATE … FROM (VALUES …) for a locked batch, on PostgreSQL. (bulk_update builds a CASE
    per row and per field; for 500 rows that costs more than the whole rest of the sweep.)"""
    if not clocks:
        return
    table = connection.ops.quote_name(Clock._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::smallint, %s::timestamptz)"] * len(clocks))
    params = []
    for c in clocks:
        params += [c.pk, c.level, c.next_threshold_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET level = v.level, next_threshold_at = v.next_at "
            f"FROM (VALUES {rows}) AS v(id, level, next_at) WHERE c.id = v.id",
            params,
        )


class _Sweep:
    def __init__(self, now: datetime, batch_size: int) -> None:
        self.now = now
        self.batch_size = batch_size
        self.result = SweepResult()
        self.audience = Audience()
        self.policies = SlaPolicy.objects.in_bulk()
        self.endpoints = list(WebhookEndpoint.objects.filter(active=True))
        self.labels: dict[tuple, str] = {}

    # ----------------------------------------------------------------------- thresholds

    def thresholds(self) -> None:
        while True:
            with transaction.atomic():
                n = self._batch()
            if n < self.batch_size:
                return

    def _claim(self) -> tuple[int, list[tuple[Clock, int]]]:
        """Lock (or conditionally update) a batch of due clocks and move each to the level it
        has reached. Returns how many were read and (clock, previous level) for the clocks
        this sweep owns and that reached a new level."""
        qs = due_clocks(self.now)
        if _skip_locked():
            # The clock and its order together, skipping both when either is held: a service
            # locks the order first and then writes its clocks, so a sweep that waited for an
            # order while holding its clock could deadlock with it. A skipped clock stays due
            # and is taken by the next batch or sweep.
            qs = qs.select_related("ticket").select_for_update(
                skip_locked=True, of=("self", "ticket")
            )
        clocks = list(qs[: self.batch_size])
        moved: list[tuple[Clock, int]] = []
        for clock in clocks:
            clock.policy = self.policies[clock.policy_id]
            previous = clock.level
            clock.level = max(previous, _levels_passed(clock, self.now))
            _refresh_marks(clock)
            moved.append((clock, previous))
        if _skip_locked():
            if connection.vendor == "postgresql":
                _update_levels([c for c, _p in moved])
            elif moved:
                Clock.objects.bulk_update([c for c, _p in moved], ["level", "next_threshold_at"])
            owned = moved
        else:
            owned = [
                (clock, previous)
                for clock, previous in moved
                if Clock.objects.filter(pk=clock.pk, level=previous).update(
                    level=clock.level, next_threshold_at=clock.next_threshold_at
                )
            ]
        return len(clocks), [(c, p) for c, p in owned if c.level > p]

    def _batch(self) -> int:
        from workorders.models import Ticket

        read, owned = self._claim()
        self.result.batches += 1
        if not owned:
            return read
        tickets = (
            Ticket.objects.select_related("handler", "department")
            .only(*TICKET_FIELDS)
            .in_bulk({c.ticket_id for c, _p in owned})
        )
        events, notes, hooks, breached = [], [], [], []
        for clock, previous in owned:
            ticket = tickets[clock.ticket_id]
            latest = clock.level
            for level in range(previous + 1, latest + 1):
                events.append(
                    SlaEvent(
                        clock=clock,
                        ticket=ticket,
                        level=level,
                        kind=event_kind(level),
                        threshold_at=threshold_at(clock, level),
                        recorded_at=self.now,
                        # Catch-up: only the latest level is told as new.
                        late=level != latest,
                    )
                )
            if not ticket.is_open:
                continue
            if previous < SUPERVISE_LEVEL <= latest:
                breached.append((ticket, clock))
            notes += self._notes(clock, ticket, latest)
            hooks.append(self._hook(clock, ticket, latest))
        SlaEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=500)
        self.result.events += len(events)
        self.result.late_events += sum(e.late for e in events)
        self.result.notifications += notifications_create(notes=notes, now=self.now)
        self.result.webhooks += webhooks_create(
            events=hooks, now=self.now, endpoints=self.endpoints
        )
        self._escalate(owned)
        if breached:
            self._supervise(breached)
        return read

    def _notes(self, clock: Clock, ticket, level: int) -> list[Note]:
        kind = event_kind(level)
        users = self.audience.for_sla_level(
            level=level, clock_kind=clock.kind, ticket=ticket, department_id=clock.department_id
        )
        if not users:
            return []
        texts = in_every_language(
            lambda: sla_event_text(
                kind_label=self._label(EventKind(kind)),
                number=ticket.number,
                clock_label=self._label(ClockKind(clock.kind)),
                due_at=clock.due_at,
                now=self.now,
                level=level,
                summary=ticket.summary,
            )
        )
        notes = [
            Note(user, ticket.pk, kind, f"sla:{clock.pk}:{level}:u{user.pk}", texts)
            for user in users
        ]
        return notes

    def _label(self, choice) -> str:
        key = (translation.get_language(), type(choice).__name__, choice.value)
        if key not in self.labels:
            self.labels[key] = str(choice.label)
        return self.labels[key]

    def _hook(self, clock: Clock, ticket, level: int) -> Event:
        key = f"sla:{clock.pk}:{level}"
        kind = event_kind(level)
        return Event(
            key=key,
            kind=kind,
            ticket_id=ticket.pk,
            payload={
                "event": f"sla.{kind}",
                "key": key,
                "at": self.now.isoformat(),
                "level": level,
                "ticket": ticket_payload(ticket),
                "clock": {
                    "id": clock.pk,
                    "kind": clock.kind,
                    "started_at": clock.started_at.isoformat(),
                    "due_at": clock.due_at.isoformat(),
                    "threshold_at": threshold_at(clock, level).isoformat(),
                },
            },
        )

    def _escalate(self, owned) -> None:
        """The order's escalation level: 1 at the breach, +1 per further step."""
        from workorders.models import Ticket

        by_step: dict[int, list[int]] = {}
        for clock, _previous in owned:
            step = clock.level - SUPERVISE_LEVEL + 1
            if step >= 1:
                by_step.setdefault(step, []).append(clock.ticket_id)
        for step, ticket_ids in by_step.items():
            Ticket.objects.filter(pk__in=ticket_ids, escalation_level__lt=step).update(
                escalation_level=step
            )
        if by_step:
            # The SLA level feeds the escalation-risk score (越级投诉预警).
            from workorders.services.risk import tickets_risk_refresh

            tickets_risk_refresh(
                ticket_ids={i for ids in by_step.values() for i in ids}, now=self.now
            )

    def _supervise(self, breached: list) -> None:
        """A breach writes a 督办 record on the order, through the workflow service."""
        from workorders.services import tickets_supervise_by_system

        by_kind: dict[str, list] = {}
        for ticket, clock in breached:
            by_kind.setdefault(clock.kind, []).append(ticket)
        for kind, tickets in by_kind.items():
            with translation.override(settings.LANGUAGE_CODE):
                note = _("%(clock)s已超时，系统自动督办。") % {"clock": ClockKind(kind).label}
            self.result.supervised += tickets_supervise_by_system(
                tickets=tickets, note=note, now=self.now
            )

    # ----------------------------------------------------------------------- other timers

    def _locked_batch(self, qs, failed: set[int]):
        qs = qs.exclude(pk__in=failed) if failed else qs
        if _skip_locked():
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        return list(qs[: self.batch_size])

    def _each(self, qs, action) -> int:
        """Run `action(ticket)` in its own savepoint for each ticket of `qs`, in locked
        batches; a ticket that fails is logged and skipped, never retried in this sweep."""
        from workorders.errors import DomainError

        done, failed = 0, set()
        while True:
            with transaction.atomic():
                batch = self._locked_batch(qs, failed)
                for ticket in batch:
                    try:
                        with transaction.atomic():
                            action(ticket)
                        done += 1
                    except DomainError as exc:
                        failed.add(ticket.pk)
                        self.result.errors.append(f"{ticket.number}: {exc}")
                        log.warning("sla sweep %s: %s", ticket.number, exc)
            if len(batch) < self.batch_size:
                return done

    def resume_suspended(self) -> None:
        """Orders whose suspension until-time has passed resume, as the system, at that
        time: a late sweep does not lengthen the approved pause."""
        from workorders.models import State, Ticket
        from workorders.services import ticket_resume

        qs = Ticket.objects.filter(state=State.SUSPENDED, suspended_until__lte=self.now).order_by(
            "suspended_until"
        )

        def resume(ticket) -> None:
            ticket_resume(ticket=ticket, by=None, now=min(ticket.suspended_until, self.now))

        self.result.resumed = self._each(qs, resume)

    def auto_close(self) -> None:
        """Orders left in `replied` beyond the auto-close window close as "not reached", an
        unsuccessful visit. One with a redo proposal waiting for the supervisor is left."""
        from workorders.models import RequestStatus, State, Ticket, VisitOutcome
        from workorders.services import ticket_close

        hours = settings.SLA_AUTO_CLOSE_HOURS
        if hours <= 0:
            return
        qs = (
            Ticket.objects.filter(
                state=State.REPLIED, replied_at__lte=self.now - timedelta(hours=hours)
            )
            .exclude(redo_proposals__status=RequestStatus.PENDING)
            .order_by("replied_at")
        )
        with translation.override(settings.LANGUAGE_CODE):
            note = _("超过 %(h)d 小时未回访，系统自动办结。") % {"h": hours}

        def close(ticket) -> None:
            ticket_close(
                ticket=ticket, by=None, outcome=VisitOutcome.NOT_REACHED, note=note, now=self.now
            )

        self.result.auto_closed = self._each(qs, close)


SWEEP_JOB = "sla_sweep"
# The sweep task's hard time limit; on SQLite a claim older than this belongs to a dead sweep.
SWEEP_TIME_LIMIT = 300


def sla_sweep(*, now: datetime | None = None, batch_size: int | None = None) -> SweepResult:
    """Resume due suspensions, record every threshold crossed by `now` exactly once (telling
    the people the latest level names), then auto-close orders waiting too long for a visit.
    One sweep at a time: a sweep started while another runs returns at once (`skipped`)."""
    with run_once(SWEEP_JOB, lease=timedelta(seconds=SWEEP_TIME_LIMIT)) as mine:
        if not mine:
            return SweepResult(skipped=True)
        sweep = _Sweep(now or timezone.now(), batch_size or settings.SLA_SWEEP_BATCH)
        sweep.resume_suspended()
        sweep.thresholds()
        sweep.auto_close()
        return sweep.result
