"""Records on an order that are not transitions: urgency, description, comments, photos,
chases, supervision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from sla import services as clocks

from .. import events
from ..errors import Invalid, InvalidState, RateLimited
from ..models import (
    OPEN_STATES,
    Chase,
    Comment,
    State,
    Supervision,
    Ticket,
    Urgency,
)
from .attachments import _store_attachment, validate_attachment
from .common import (
    _audit,
    _now,
    _require,
    _save,
    _snapshot,
    _text,
    ticket_write,
)

CHASE_INTERVAL = timedelta(minutes=10)


# --------------------------------------------------------------------------- records


@ticket_write
def ticket_change_urgency(
    *, ticket: Ticket, by: User, urgency: str, reason: str, now: datetime | None = None
) -> Ticket:
    """A dispatcher changes urgency with a reason; running clocks are recomputed from their
    start (the report time for the promise), and both due times are recorded."""
    now = _now(now)
    role = _require(by, "change_urgency", ticket)
    if not ticket.is_open:
        raise InvalidState()
    if urgency not in Urgency.values:
        raise Invalid(fields={"urgency": [_("紧急程度无效。")]})
    reason = _text(reason, "urgency_reason")
    if urgency == ticket.urgency:
        return ticket
    before = _snapshot(ticket)
    old = ticket.urgency
    ticket.urgency = urgency
    ticket.urgency_reason = reason
    changes = clocks.clocks_retarget(ticket=ticket, now=now)
    _save(ticket, before)
    _audit(
        ticket,
        transition="change_urgency",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=reason,
        data={
            "from": old,
            "to": urgency,
            "due": {c.kind: [o.isoformat(), n.isoformat()] for c, o, n in changes},
        },
    )
    return ticket


@ticket_write
def ticket_add_description(
    *, ticket: Ticket, by: User, text: str, now: datetime | None = None
) -> Ticket:
    """补充描述: the reporter adds to an open order's description; what was there stays and the
    addition is stamped with its time."""
    now = _now(now)
    role = _require(by, "add_description", ticket)
    if not ticket.is_open:
        raise InvalidState()
    text = _text(text, "description_addition", max_length=2000)
    before = _snapshot(ticket)
    stamp = timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
    ticket.description = f"{ticket.description}\n\n[{_('补充')} {stamp}] {text}"
    _save(ticket, before)
    _audit(
        ticket,
        transition="add_description",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=text,
    )
    return ticket


@transaction.atomic
def ticket_comment(*, ticket: Ticket, by: User, body: str, now: datetime | None = None):
    now = _now(now)
    _require(by, "comment", ticket)
    body = _text(body, "body", max_length=2000)
    return Comment.objects.create(ticket=ticket, author=by, body=body, created_at=now)


@transaction.atomic
def ticket_attach(*, ticket: Ticket, by: User, files: Sequence, now: datetime | None = None):
    """Add photos (same right as commenting); at most 6 per call, type and size checked."""
    now = _now(now)
    _require(by, "comment", ticket)
    if not files:
        raise Invalid(fields={"attachments": [_("请选择图片。")]})
    if len(files) > 6:
        raise Invalid(fields={"attachments": [_("最多上传 6 张图片。")]})
    for upload in files:
        validate_attachment(upload)
    return [_store_attachment(ticket, by, upload, now) for upload in files]


@ticket_write
def ticket_chase(*, ticket: Ticket, by: User, note: str = "", now: datetime | None = None):
    """催办: at most once per 10 minutes an order, and only while it is open."""
    now = _now(now)
    _require(by, "chase", ticket)
    if not ticket.is_open or ticket.state == State.REPLIED:
        raise InvalidState(_("工单已回复或已办结，无需催办。"))
    # The order's row is locked (ticket_write): two chases at once cannot both pass the
    # interval check.
    last = ticket.chases.order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and now - last < CHASE_INTERVAL:
        wait = int((CHASE_INTERVAL - (now - last)).total_seconds() // 60) + 1
        raise RateLimited(_("该工单刚被催办过，请 %(m)d 分钟后再催。") % {"m": wait})
    chase = Chase.objects.create(
        ticket=ticket, by=by, note=(note or "").strip()[:500], created_at=now
    )
    Ticket.objects.filter(pk=ticket.pk).update(chase_count=F("chase_count") + 1)
    ticket.chase_count += 1
    events.publish(events.CHASE, ticket=ticket, chase=chase, by=by, now=now)
    return chase


@ticket_write
def ticket_supervise(*, ticket: Ticket, by: User | None, note: str, now: datetime | None = None):
    """督办: a supervisor's note on an open order (the SLA engine writes these too)."""
    now = _now(now)
    if by is not None:
        _require(by, "supervise", ticket)
    if not ticket.is_open:
        raise InvalidState(_("工单已办结或已作废，无需督办。"))
    note = _text(note, "note")
    row = Supervision.objects.create(ticket=ticket, by=by, note=note, created_at=now)
    Ticket.objects.filter(pk=ticket.pk).update(supervise_count=F("supervise_count") + 1)
    ticket.supervise_count += 1
    if by is not None:
        events.publish(
            events.RECORDED, ticket=ticket, record="supervise", by=by, note=note, now=now
        )
    return row


@transaction.atomic
def tickets_supervise_by_system(*, tickets: Iterable[Ticket], note: str, now: datetime) -> int:
    """督办 by the SLA engine when clocks breach: ticket_supervise(by=None) for many open
    orders at once (a lock, an insert and an update, not queries per order)."""
    note = _text(note, "note")
    tickets = list(tickets)
    # Locked and re-read: an order that closed since the sweep read it gets no note.
    still_open = set(
        Ticket.objects.select_for_update()
        .filter(pk__in=[t.pk for t in tickets], state__in=OPEN_STATES)
        .values_list("pk", flat=True)
    )
    targets = [t for t in tickets if t.pk in still_open]
    Supervision.objects.bulk_create(
        [Supervision(ticket=t, by=None, note=note, created_at=now) for t in targets]
    )
    Ticket.objects.filter(pk__in=[t.pk for t in targets]).update(
        supervise_count=F("supervise_count") + 1
    )
    return len(targets)
