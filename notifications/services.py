"""Notifications: in-app rows, email and webhooks.

The in-app row is written in the caller's transaction (it is part of what happened); email and
webhook deliveries are enqueued with `transaction.on_commit`, by id, so nothing is sent for a
rolled-back change and a slow receiver never holds up the caller. Every delivery has a unique
key (event + recipient or endpoint), so running anything twice sends nothing twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .audience import Audience
from .messages import chase_text, in_every_language, language_of, transition_text
from .models import (
    DeliveryStatus,
    Notification,
    NotificationKind,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

SIGNATURE_HEADER = "X-Whistle-Signature"

TRANSITION_KINDS = {
    "dispatch": NotificationKind.DISPATCHED,
    "redispatch": NotificationKind.DISPATCHED,
    "rule_return": NotificationKind.DISPATCHED,
    "reply": NotificationKind.REPLIED,
    "close": NotificationKind.CLOSED,
}


def notification_mark_read(*, user, ids=None, now=None) -> int:
    """Mark the user's notifications read (all unread ones when `ids` is None)."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=now or timezone.now())


# --------------------------------------------------------------------------- creating


@dataclass(frozen=True)
class Note:
    """A notification to create for one recipient: its text in every site language
    ({language: (title, body)}, from `messages.in_every_language`)."""

    recipient: object
    ticket_id: int | None
    kind: str
    key: str
    texts: dict

    @property
    def text(self) -> tuple[str, str]:
        """(title, body) in the recipient's language: what the e-mail says."""
        language = language_of(self.recipient)
        return self.texts.get(language) or self.texts[settings.LANGUAGE_CODE]


@dataclass(frozen=True)
class Event:
    """Something webhooks hear about once (not per recipient)."""

    key: str
    kind: str
    ticket_id: int | None
    payload: dict


def _enqueue(task_name: str, ids: list[int]) -> None:
    if not ids:
        return

    def send() -> None:
        from . import tasks

        task = getattr(tasks, task_name)
        for pk in ids:
            task.delay(pk)

    transaction.on_commit(send)


def _notification(note: Note, now: datetime) -> Notification:
    title, body = note.text
    return Notification(
        recipient=note.recipient,
        ticket_id=note.ticket_id,
        kind=note.kind,
        key=note.key,
        title=title[:200],
        body=body,
        texts={code: [t[:200], b] for code, (t, b) in note.texts.items()},
        created_at=now,
    )


def notifications_create(*, notes: Iterable[Note], now: datetime) -> int:
    """Write in-app notifications (a second write of the same key is ignored) and enqueue
    their emails after commit. Returns how many notes were given."""
    notes = list(notes)
    if not notes:
        return 0
    Notification.objects.bulk_create(
        [_notification(n, now) for n in notes], ignore_conflicts=True, batch_size=500
    )
    if settings.NOTIFY_EMAIL:
        keys = [n.key for n in notes if getattr(n.recipient, "email", "")]
        if keys:
            ids = list(
                Notification.objects.filter(key__in=keys, emailed_at__isnull=True).values_list(
                    "id", flat=True
                )
            )
            _enqueue("notification_email_task", ids)
    return len(notes)


def webhooks_create(
    *, events: Iterable[Event], now: datetime, endpoints: list[WebhookEndpoint] | None = None
) -> int:
    """One delivery per (event, active endpoint that wants its kind), enqueued after commit."""
    events = list(events)
    if not events:
        return 0
    if endpoints is None:
        endpoints = list(WebhookEndpoint.objects.filter(active=True))
    rows = [
        WebhookDelivery(
            endpoint=ep,
            key=f"{ev.key}:ep{ep.pk}"[:160],
            kind=ev.kind,
            ticket_id=ev.ticket_id,
            payload=ev.payload,
            created_at=now,
            next_attempt_at=now,
        )
        for ev in events
        for ep in endpoints
        if ep.wants(ev.kind)
    ]
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    ids = list(
        WebhookDelivery.objects.filter(
            key__in=[r.key for r in rows], status=DeliveryStatus.PENDING, attempts=0
        ).values_list("id", flat=True)
    )
    _enqueue("webhook_deliver_task", ids)
    return len(rows)


def ticket_payload(ticket) -> dict:
    """What a webhook receiver learns about an order (no customer data)."""
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "state": ticket.state,
        "urgency": ticket.urgency,
        "department": ticket.department.code if ticket.department_id else None,
        "handler": ticket.handler.username if ticket.handler_id else None,
    }


def notify_transition(*, ticket, transition: str, actor, audit_id: int, now: datetime) -> None:
    """Tell the reporter (first-contact owner) that their order was dispatched, replied to or
    closed, unless they did it themselves."""
    kind = TRANSITION_KINDS.get(transition)
    if kind is None:
        return
    reporter = ticket.reporter
    if reporter is None or not reporter.is_active:
        return
    event = Event(
        key=f"audit:{audit_id}",
        kind=kind,
        ticket_id=ticket.pk,
        payload={
            "event": f"ticket.{kind}",
            "key": f"audit:{audit_id}",
            "at": now.isoformat(),
            "ticket": ticket_payload(ticket),
        },
    )
    webhooks_create(events=[event], now=now)
    if actor is not None and actor.pk == reporter.pk:
        return
    texts = in_every_language(
        lambda: transition_text(transition=transition, ticket=ticket, now=now)
    )
    if texts is None:
        return
    notifications_create(
        notes=[Note(reporter, ticket.pk, kind, f"audit:{audit_id}:u{reporter.pk}", texts)],
        now=now,
    )


def notify_chase(*, ticket, chase, by, now: datetime) -> None:
    """催办 by a user → the leads of the order's department (the dispatch desk before it has
    one)."""
    audience = Audience()
    users = audience.leads_of(ticket.department_id) if ticket.department_id else []
    if not users:
        from accounts.roles import Role

        users = audience.with_role(Role.DISPATCHER)
    recipients = [user for user in users if user.pk != by.pk]
    notes = []
    if recipients:
        texts = in_every_language(
            lambda: chase_text(ticket=ticket, by=by, note=chase.note, now=now)
        )
        notes = [
            Note(
                user, ticket.pk, NotificationKind.USER_CHASE, f"chase:{chase.pk}:u{user.pk}", texts
            )
            for user in recipients
        ]
    notifications_create(notes=notes, now=now)
    webhooks_create(
        events=[
            Event(
                key=f"chase:{chase.pk}",
                kind=NotificationKind.USER_CHASE,
                ticket_id=ticket.pk,
                payload={
                    "event": "ticket.user_chase",
                    "key": f"chase:{chase.pk}",
                    "at": now.isoformat(),
                    "ticket": ticket_payload(ticket),
                },
            )
        ],
        now=now,
    )


# --------------------------------------------------------------------------- delivering


def notification_send_email(*, notification_id: int, now: datetime | None = None) -> bool:
    """Mail one notification to its recipient, at most once: the row is claimed (emailed_at
    set) before sending and released again if the backend fails, so a retry can send it."""
    now = now or timezone.now()
    n = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if n is None or not n.recipient.email or n.emailed_at is not None:
        return False
    if not Notification.objects.filter(pk=n.pk, emailed_at__isnull=True).update(emailed_at=now):
        return False
    try:
        send_mail(
            subject=n.title,
            message=n.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[n.recipient.email],
        )
    except Exception as exc:
        Notification.objects.filter(pk=n.pk).update(emailed_at=None, email_error=str(exc)[:300])
        raise
    return True


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of the signature header."""
    return hmac.compare_digest(sign(secret, body), header or "")


@dataclass(frozen=True)
class DeliveryResult:
    status: str
    retry_in: int | None = None


def _backoff(attempt: int) -> int:
    base = settings.WEBHOOK_BACKOFF_SECONDS
    return min(base * 2 ** (attempt - 1), settings.WEBHOOK_BACKOFF_MAX_SECONDS)


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> DeliveryResult | None:
    """POST one delivery once. The attempt is claimed by a conditional UPDATE on the attempt
    counter, so two workers holding the same task never both post it. Each attempt is
    recorded; a failure below the attempt limit asks the caller to retry after an
    exponentially growing delay, and the last failure marks the delivery failed."""
    now = now or timezone.now()
    d = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if d is None or d.status != DeliveryStatus.PENDING:
        return None
    if not d.endpoint.active:
        WebhookDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, last_error="endpoint disabled"
        )
        return DeliveryResult(DeliveryStatus.FAILED)
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    lease = now + timedelta(seconds=timeout + 60)
    claimed = WebhookDelivery.objects.filter(
        pk=d.pk, status=DeliveryStatus.PENDING, attempts=d.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=lease)
    if not claimed:
        return None
    attempt = d.attempts + 1
    body = json.dumps(d.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    body = body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(d.endpoint.secret, body),
        "X-Whistle-Event": d.kind,
        "X-Whistle-Delivery": d.key,
        "User-Agent": "Whistle-Webhook/1",
    }
    code, error = None, ""
    started = time.monotonic()
    try:
        response = requests.post(
            d.endpoint.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except requests.Timeout:
        error = "timeout"
    except requests.RequestException as exc:
        error = (type(exc).__name__ + ": " + str(exc))[:500]
    elapsed = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=d, at=now, status_code=code, error=error, duration_ms=elapsed
    )
    fields = {"last_status_code": code, "last_error": error}
    if not error:
        WebhookDelivery.objects.filter(pk=d.pk).update(
            status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None, **fields
        )
        return DeliveryResult(DeliveryStatus.SUCCEEDED)
    if attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=d.pk).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, **fields
        )
        return DeliveryResult(DeliveryStatus.FAILED)
    delay = _backoff(attempt)
    WebhookDelivery.objects.filter(pk=d.pk).update(
        next_attempt_at=now + timedelta(seconds=delay), **fields
    )
    return DeliveryResult(DeliveryStatus.PENDING, retry_in=delay)


def webhooks_requeue(*, now: datetime | None = None, grace_seconds: int = 300) -> int:
    """Re-enqueue pending deliveries whose task was lost (worker gone, broker flushed):
    due for longer than the grace period. Safe with the original task still alive, because
    an attempt is claimed before it is posted."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING),
            Q(next_attempt_at__lte=now - timedelta(seconds=grace_seconds)),
        ).values_list("id", flat=True)[:1000]
    )
    with transaction.atomic():
        _enqueue("webhook_deliver_task", ids)
    return len(ids)
