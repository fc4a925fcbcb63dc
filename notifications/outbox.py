"""The outbox: how everything Whistle sends leaves it (e-mail, webhooks, and channels to come).

A message to send is first a `Delivery` row, written by `deliveries_enqueue` in the same
transaction as the change that causes it: a rolled-back change sends nothing, a committed one
cannot lose its messages. After the commit a doorbell (`outbox_ring`) asks a worker to run the
relay now, when a row written is due now (rows due later, such as a text in its coalescing
wait, are sent by beat's periodic relay, `OUTBOX_RELAY_SECONDS`); if the broker is down the
doorbell is skipped with a warning — never an error for the user — and beat's relay sends the
rows once a worker runs again.

The relay (`outbox_relay`) claims due rows in batches — `SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL, so parallel relays never hold the same row; a conditional UPDATE elsewhere — and
gives each claim a lease (`OUTBOX_LEASE_SECONDS`): the row's `next_attempt_at` moves to the end
of the lease and its attempt counter goes up by one, which also fences the claim (a relay marks
a row only while the counter is still the one it claimed). Rows are sent outside the claiming
transaction, one by one; a send that fails is retried with exponential backoff up to
`OUTBOX_MAX_ATTEMPTS`, then the row is `failed`. A worker killed mid-send leaves its rows
claimed; when the lease ends they are due again and are sent again: delivery is at least once,
and every send carries the row's idempotency key (`Delivery.key`) for the receiver to drop a
repeat.

Adding a channel (the SMS channel does this) is a sender, not a relay:

    from notifications.outbox import Defer, SendError, Skip, deliveries_enqueue, register_sender

    def sms_send(delivery) -> int | None:
        # send delivery.payload to delivery.address, passing delivery.key as the
        # provider's idempotency key / client reference; return the response code or None.
        # raise SendError("why", code=…) to retry later (permanent=True: give up now),
        # raise Defer(until) for "not yet" (quiet hours, rate rule): no attempt is counted;
        # raise Skip(reason) for "never" (opted out, over a cap): the row is skipped.
        ...

    register_sender(Channel.SMS, sms_send, max_attempts=3)   # in AppConfig.ready()
    deliveries_enqueue([Delivery(channel=Channel.SMS, key=…, address=phone, payload=…,
                                 kind=…, created_at=now)])   # in the change's transaction

A sender is called with the row only (its `endpoint` is loaded); it must give up within the
lease (set connect/read timeouts). Rows of a channel without a sender stay pending, untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.statements import RowInsert

from .models import Delivery, DeliveryAttempt, DeliveryStatus

log = logging.getLogger(__name__)


class SendError(Exception):
    """The send failed. `permanent`: retrying cannot help (no address, endpoint disabled)."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent


class Defer(Exception):
    """Not now: send at `until` (quiet hours, a rate rule). Does not count as an attempt."""

    def __init__(self, until: datetime, reason: str = ""):
        super().__init__(reason or f"deferred until {until.isoformat()}")
        self.until = until
        self.reason = reason


@dataclass(frozen=True)
class Sent:
    """What a sender may return instead of the bare response code: the code, and fields of
    the row to record with "sent" in the same write (the SMS platform's message id)."""

    code: int | None = None
    fields: dict = field(default_factory=dict)


class Skip(Exception):
    """Never send this row: a rule forbids it (the customer opted out, the number's daily
    cap). The row is marked skipped with the reason; no attempt is counted."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


Sender = Callable[[Delivery], "int | Sent | None"]


@dataclass(frozen=True)
class _Channel:
    send: Sender
    max_attempts: int | None


_senders: dict[str, _Channel] = {}


def register_sender(channel: str, send: Sender, *, max_attempts: int | None = None) -> None:
    """Make the relay send `channel`'s rows with `send` (the last registration wins)."""
    _senders[channel] = _Channel(send, max_attempts)


def registered_channels() -> list[str]:
    return sorted(_senders)


# --------------------------------------------------------------------------- writing


# The few rows of one event (a new order's text): a statement written once per process; a
# digest's many rows go through bulk_create in batches (RowInsert.BULK_BATCH).
DELIVERY_INSERT = RowInsert(Delivery, ignore_conflicts=True)


def deliveries_enqueue(rows: Iterable[Delivery]) -> int:
    """Write outbox rows in the caller's transaction (a row whose channel and key exist already
    is ignored, so writing twice sends once) and ring the doorbell after the commit when one
    of them is due now. A row without `next_attempt_at` is due at once; rows due later (a
    text in its coalescing wait) are sent by beat's periodic relay: a relay rung now would
    find nothing due, and the broker round trip would be spent for nothing."""
    rows = list(rows)
    if not rows:
        return 0
    due = timezone.now()
    for row in rows:
        if row.next_attempt_at is None:
            # The earlier of its creation and the real clock: a sweep run for a past or a
            # future instant neither postpones nor backdates its messages.
            row.next_attempt_at = min(row.created_at or due, due)
        if row.created_at is None:
            row.created_at = due
    DELIVERY_INSERT.insert(rows)
    if any(row.next_attempt_at <= due for row in rows):
        transaction.on_commit(outbox_ring, robust=True)
    return len(rows)


_RING_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def outbox_ring() -> None:
    """Ask a worker to run the relay now. Never raises: a broker that is down (or slow) costs
    the caller at most the broker's connect/socket timeout, and beat's relay sends the rows."""
    from .tasks import outbox_relay_task

    try:
        # One quick retry (a pooled connection may be stale after a broker restart), no more:
        # a missed ring costs at most one relay interval.
        outbox_relay_task.apply_async(retry=True, retry_policy=_RING_RETRY)
    except Exception:
        log.warning(
            "outbox: could not ring the relay (broker unreachable?); the periodic relay will "
            "send the pending deliveries",
            exc_info=True,
        )


# --------------------------------------------------------------------------- relaying


@dataclass
class RelayResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    released: int = 0  # claimed but left for the next run (time budget spent)
    lost: int = 0  # lease expired and taken by another relay before this one sent it
    more: bool = False  # stopped at the limit or the time budget: more may be due

    def as_dict(self) -> dict:
        return asdict(self)


def backoff_seconds(attempt: int) -> int:
    """Delay before the next try after failed attempt number `attempt` (1, 2, …)."""
    base = settings.OUTBOX_BACKOFF_SECONDS
    return min(base * 2 ** (attempt - 1), settings.OUTBOX_BACKOFF_MAX_SECONDS)


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def _claim(*, now: datetime, size: int) -> list[Delivery]:
    """Take up to `size` due rows of the channels that have a sender, under a lease."""
    lease_until = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    due = (
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            channel__in=registered_channels(),
        )
        .select_related("endpoint")
        .order_by("next_attempt_at", "id")
    )
    if _skip_locked():
        with transaction.atomic():
            rows = list(due.select_for_update(skip_locked=True, of=("self",))[:size])
            if rows:
                Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
                    attempts=F("attempts") + 1, next_attempt_at=lease_until
                )
    else:
        # No row locks (SQLite): each row is claimed by a conditional UPDATE on its attempt
        # counter; of two relays reading the same row, only one changes it.
        rows = [
            r
            for r in due[:size]
            if Delivery.objects.filter(
                pk=r.pk,
                status=DeliveryStatus.PENDING,
                attempts=r.attempts,
                next_attempt_at__lte=now,
            ).update(attempts=r.attempts + 1, next_attempt_at=lease_until)
        ]
    for r in rows:
        r.attempts += 1
        r.next_attempt_at = lease_until
    return rows


def _fence(d: Delivery):
    """The row, only while it is still this relay's claim."""
    return Delivery.objects.filter(pk=d.pk, status=DeliveryStatus.PENDING, attempts=d.attempts)


def _release(rows: list[Delivery], now: datetime) -> int:
    """Give claimed, unsent rows back (due now, the attempt not counted)."""
    released = 0
    for d in rows:
        released += _fence(d).update(attempts=d.attempts - 1, next_attempt_at=now)
    return released


def _send(d: Delivery, now: datetime, result: RelayResult) -> None:
    channel = _senders[d.channel]
    started = time.monotonic()
    code, error, permanent, extra = None, "", False, {}
    try:
        code = channel.send(d)
        if isinstance(code, Sent):
            code, extra = code.code, code.fields
    except Defer as exc:
        _fence(d).update(attempts=d.attempts - 1, next_attempt_at=exc.until)
        result.deferred += 1
        return
    except Skip as exc:
        _fence(d).update(
            status=DeliveryStatus.SKIPPED,
            attempts=d.attempts - 1,
            next_attempt_at=None,
            last_error=exc.reason[:500],
        )
        result.skipped += 1
        return
    except SendError as exc:
        code, error, permanent = exc.code, exc.message, exc.permanent
    except SoftTimeLimitExceeded:
        raise  # the task is out of time: the lease brings the row back
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    error = error[:500]
    elapsed = int((time.monotonic() - started) * 1000)
    fields = {"last_status_code": code, "last_error": error}
    max_attempts = channel.max_attempts or settings.OUTBOX_MAX_ATTEMPTS
    give_up = bool(error) and (permanent or d.attempts >= max_attempts)
    # The attempt and its outcome together: a worker dying here leaves neither behind.
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=d, at=now, status_code=code, error=error, duration_ms=elapsed
        )
        if not error:
            # Sent even if the lease was lost meanwhile: the other relay's send is the repeat.
            Delivery.objects.filter(pk=d.pk, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.SENT, sent_at=now, next_attempt_at=None, **fields, **extra
            )
        elif give_up:
            _fence(d).update(status=DeliveryStatus.FAILED, next_attempt_at=None, **fields)
        else:
            later = now + timedelta(seconds=backoff_seconds(d.attempts))
            _fence(d).update(next_attempt_at=later, **fields)
    if not error:
        result.sent += 1
    elif give_up:
        result.failed += 1
        log.warning("outbox: %s failed after %d attempts: %s", d, d.attempts, error)
    else:
        result.retrying += 1


def outbox_relay(
    *, now: datetime | None = None, limit: int | None = None, budget_seconds: float | None = None
) -> RelayResult:
    """Send what is due, at least once each: claim due rows under a lease, send each outside
    the claim, record the attempt, and mark it sent, retry it later, or fail it at the limit.
    Stops after `limit` rows or `budget_seconds`, giving back what it claimed and did not send
    (`more` then says to run again)."""
    clock = (lambda: now) if now is not None else timezone.now
    limit = limit or settings.OUTBOX_RELAY_LIMIT
    budget = budget_seconds if budget_seconds is not None else settings.OUTBOX_RELAY_BUDGET_SECONDS
    deadline = time.monotonic() + budget
    lease = settings.OUTBOX_LEASE_SECONDS
    result = RelayResult()
    while result.claimed < limit:
        if time.monotonic() >= deadline:
            result.more = True
            break
        rows = _claim(now=clock(), size=min(settings.OUTBOX_RELAY_BATCH, limit - result.claimed))
        if not rows:
            break
        claimed_at = time.monotonic()
        result.claimed += len(rows)
        for i, d in enumerate(rows):
            if time.monotonic() >= deadline:
                result.released += _release(rows[i:], clock())
                result.more = True
                break
            if time.monotonic() - claimed_at > lease / 2:
                # A long batch: renew this row's lease before sending, so it is not claimed
                # by another relay meanwhile; lost already means someone else has it.
                renewed = _fence(d).update(next_attempt_at=clock() + timedelta(seconds=lease))
                if not renewed:
                    result.lost += 1
                    continue
            _send(d, clock(), result)
    else:
        result.more = True
    return result
