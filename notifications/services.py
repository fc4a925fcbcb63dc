"""Notifications: in-app rows, and the e-mails and webhooks that go with them.

Everything is written in the caller's transaction: the in-app row (part of what happened) and,
for the e-mail and the webhooks, outbox rows (`Delivery`) that the relay sends after the commit
(`notifications.outbox`), so nothing is sent for a rolled-back change, nothing committed is lost
when the broker or a worker dies, and a slow receiver never holds up the caller. Every delivery
has a unique key (event + recipient or endpoint): writing it twice sends it once, and the
receiver gets the key to drop the repeat of an at-least-once delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.utils import timezone

from .audience import Audience
from .messages import (
    chase_text,
    in_every_language,
    language_of,
    risk_text,
    staff_text,
    transition_text,
)
from .models import Channel, Delivery, Notification, NotificationKind, WebhookEndpoint
from .outbox import SendError, deliveries_enqueue

SIGNATURE_HEADER = "X-Whistle-Signature"
# The idempotency key of a delivery, on every webhook and e-mail (and on every retry of it).
DELIVERY_HEADER = "X-Whistle-Delivery"

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
    """Write in-app notifications and, for recipients with an e-mail address, their e-mails to
    the outbox (a second write of the same key is ignored). Returns how many notes were given."""
    notes = list(notes)
    if not notes:
        return 0
    Notification.objects.bulk_create(
        [_notification(n, now) for n in notes], ignore_conflicts=True, batch_size=500
    )
    if settings.NOTIFY_EMAIL:
        mails = []
        for n in notes:
            address = getattr(n.recipient, "email", "")
            if not address:
                continue
            subject, body = n.text
            mails.append(
                Delivery(
                    channel=Channel.EMAIL,
                    key=n.key,
                    kind=n.kind,
                    ticket_id=n.ticket_id,
                    recipient=n.recipient,
                    address=address,
                    payload={"subject": subject[:200], "body": body},
                    created_at=now,
                )
            )
        deliveries_enqueue(mails)
    return len(notes)


def webhooks_create(
    *, events: Iterable[Event], now: datetime, endpoints: list[WebhookEndpoint] | None = None
) -> int:
    """One outbox row per (event, active endpoint that wants its kind)."""
    events = list(events)
    if not events:
        return 0
    if endpoints is None:
        endpoints = list(WebhookEndpoint.objects.filter(active=True))
    rows = [
        Delivery(
            channel=Channel.WEBHOOK,
            endpoint=ep,
            key=f"{ev.key}:ep{ep.pk}",
            kind=ev.kind,
            ticket_id=ev.ticket_id,
            payload=ev.payload,
            created_at=now,
        )
        for ev in events
        for ep in endpoints
        if ep.wants(ev.kind)
    ]
    return deliveries_enqueue(rows)


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


_summarised: ContextVar[bool] = ContextVar("notifications_summarised", default=False)


@contextmanager
def staff_notes_summarised() -> Iterator[None]:
    """For a caller that tells the staff in one notice what many orders' changes mean (a mass
    fault's confirmation dispatches all its orders): no per-order staff notes meanwhile (the
    reporters, webhooks and customers still hear of each order)."""
    token = _summarised.set(True)
    try:
        yield
    finally:
        _summarised.reset(token)


# Issue 16: staff hear at once only of what needs them or changes their order; the rest is in
# their daily digest (`notifications.digest`). transition → what it means for whom.
STAFF_TRANSITIONS = {
    "dispatch": "dispatched",
    "redispatch": "dispatched",
    "reject_reply": "reply_rejected",
    "redo": "redo",
    "close": "closed",
}


def _staff_notes(*, audience_users, ticket, what: str, key: str, kind: str, now, by=None, note=""):
    users = [u for u in audience_users if by is None or u.pk != by.pk]
    if not users:
        return []
    texts = in_every_language(
        lambda: staff_text(what=what, ticket=ticket, now=now, by=by, note=note)
    )
    return [Note(u, ticket.pk, kind, f"{key}:u{u.pk}", texts) for u in users]


def _staff_transition_notes(*, ticket, transition: str, actor, audit_id: int, now) -> list[Note]:
    """dispatched (or kept after a refused return) → the department's leads; claimed with a
    handler → the handler; reply rejected or redo → handler and leads; closed → the handler
    (the verdict on their work)."""
    if _summarised.get():
        return []
    audience = Audience()
    what = STAFF_TRANSITIONS.get(transition)
    if transition == "rule_return":
        what = "returned" if ticket.last_return_ruling == "rejected" else "dispatched"
    if transition == "claim":
        if not ticket.handler_id or (actor is not None and ticket.handler_id == actor.pk):
            return []
        users, what = audience.handler_of(ticket), "assigned"
    elif what in ("dispatched", "returned"):
        users = audience.leads_of(ticket.department_id)
    elif what in ("reply_rejected", "redo"):
        users = audience.responsible_for(ticket)
    elif what == "closed":
        users = audience.handler_of(ticket)
    else:
        return []
    return _staff_notes(
        audience_users=users,
        ticket=ticket,
        what=what,
        key=f"audit:{audit_id}:staff",
        kind=TRANSITION_KINDS.get(transition, NotificationKind.OTHER),
        now=now,
        by=actor,
    )


def notify_transition(*, ticket, transition: str, actor, audit_id: int, now: datetime) -> None:
    """Tell the reporter (first-contact owner) that their order was dispatched, replied to or
    closed, unless they did it themselves; and the staff whose order it changed."""
    staff = _staff_transition_notes(
        ticket=ticket, transition=transition, actor=actor, audit_id=audit_id, now=now
    )
    kind = TRANSITION_KINDS.get(transition)
    reporter = ticket.reporter
    if kind is None or reporter is None or not reporter.is_active:
        notifications_create(notes=staff, now=now)
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
        notifications_create(notes=staff, now=now)
        return
    texts = in_every_language(
        lambda: transition_text(transition=transition, ticket=ticket, now=now)
    )
    if texts is not None:
        staff = [s for s in staff if s.recipient.pk != reporter.pk]
        staff.append(Note(reporter, ticket.pk, kind, f"audit:{audit_id}:u{reporter.pk}", texts))
    notifications_create(notes=staff, now=now)


def notify_recorded(*, ticket, record: str, now: datetime, by=None, note: str = "", **_kw):
    """Records on an order: assigned → the new handler; 督办 by a supervisor → the order's
    handler and leads; a proposed redo → the supervisors, who confirm it, and the handler."""
    from accounts.roles import Role

    audience = Audience()
    if record == "assign":
        users, what, kind = audience.handler_of(ticket), "assigned", NotificationKind.OTHER
    elif record == "supervise":
        users, what, kind = (
            audience.responsible_for(ticket),
            "supervised",
            NotificationKind.SUPERVISE,
        )
    elif record == "propose_redo":
        users = _unique_users(audience.with_role(Role.SUPERVISOR) + audience.handler_of(ticket))
        what, kind = "propose_redo", NotificationKind.OTHER
    else:
        return
    stamp = now.strftime("%Y%m%d%H%M%S%f")
    notifications_create(
        notes=_staff_notes(
            audience_users=users,
            ticket=ticket,
            what=what,
            key=f"{record}:{ticket.pk}:{stamp}",
            kind=kind,
            now=now,
            by=by,
            note=note,
        ),
        now=now,
    )


def _unique_users(users):
    seen, out = set(), []
    for u in users:
        if u.pk not in seen:
            seen.add(u.pk)
            out.append(u)
    return out


def notify_chase(*, ticket, chase, by, now: datetime) -> None:
    """催办 by a user → the order's handler and the leads of its department (the dispatch desk
    before it has one)."""
    audience = Audience()
    users = audience.responsible_for(ticket) if ticket.department_id else []
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


# --------------------------------------------------------------------------- senders
# Registered with the outbox in `NotificationsConfig.ready()`; the relay calls them.


def message_id(delivery: Delivery) -> str:
    """A Message-ID made from the idempotency key: every try of one e-mail carries the same one,
    so a mail system (or reader) that sees it twice can drop the repeat."""
    local = re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+", ".", delivery.key).strip(".")
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "whistle.invalid"
    return f"<{local}@{domain}>"


def email_send(delivery: Delivery) -> None:
    """Send one e-mail delivery (subject and body in the recipient's language, fixed when the
    notification was written) through the configured e-mail backend."""
    if not delivery.address:
        raise SendError("no e-mail address", permanent=True)
    message = EmailMessage(
        subject=delivery.payload.get("subject", ""),
        body=delivery.payload.get("body", ""),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.address],
        headers={"Message-ID": message_id(delivery), DELIVERY_HEADER: delivery.key},
    )
    # Files are named by their storage path and read at send time: the row stays small, and
    # a file that is gone cannot come back by retrying.
    for item in delivery.payload.get("attachments", ()):
        try:
            with default_storage.open(item["path"], "rb") as fh:
                content = fh.read()
        except FileNotFoundError:
            raise SendError(f"attachment missing: {item['path']}", permanent=True) from None
        message.attach(item["filename"], content, item.get("mimetype"))
    message.send()


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of the signature header."""
    return hmac.compare_digest(sign(secret, body), header or "")


def webhook_send(delivery: Delivery) -> int:
    """POST one webhook delivery to its endpoint's current URL, signed with its current secret,
    within the connect and read timeouts of `WEBHOOK_TIMEOUT`. Any 2xx answer is success."""
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.active:
        raise SendError("endpoint disabled", permanent=True)
    body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    body = body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(endpoint.secret, body),
        "X-Whistle-Event": delivery.kind,
        DELIVERY_HEADER: delivery.key,
        "User-Agent": "Whistle-Webhook/1",
    }
    try:
        response = requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise SendError("timeout") from exc
    except requests.RequestException as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise SendError(f"HTTP {response.status_code}", code=response.status_code)
    return response.status_code


def notify_risk_alert(*, ticket, score: int, now: datetime) -> None:
    """越级投诉预警 → every supervisor, once per order (the order's alert is claimed once)."""
    from accounts.roles import Role

    texts = in_every_language(lambda: risk_text(ticket=ticket, score=score))
    notifications_create(
        notes=[
            Note(user, ticket.pk, NotificationKind.RISK, f"risk:{ticket.pk}:u{user.pk}", texts)
            for user in Audience().with_role(Role.SUPERVISOR)
        ],
        now=now,
    )
