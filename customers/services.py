"""The customer's side of an order: status links, the customer's notes and the survey.

Writes only; each takes `now`. Listeners of `workorders.events` create the link when an order
is reported, offer a survey with every reply and start a link's 30 days when the order ends,
all in the transaction of the change."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Role
from accounts.statements import RowInsert
from notifications.sms_channel import opted_out as sms_opted_out
from sla.models import ClockKind, SlaPolicy
from workorders.errors import (
    Conflict,
    Invalid,
    InvalidState,
    NotAllowed,
    RateLimited,
    Unprocessable,
)
from workorders.models import (
    Channel,
    ChannelAccount,
    RequestStatus,
    Satisfaction,
    State,
    Ticket,
    VisitChannel,
    VisitOutcome,
)
from workorders.permissions import acting_role
from workorders.phones import normalize_phone, phone_validator
from workorders.services import ticket_visit

from . import tokens
from .models import CustomerLookup, CustomerNote, StatusLink, Survey

LINK_LIFETIME = timedelta(days=30)  # after the order is closed or cancelled
NOTE_INTERVAL = timedelta(hours=1)
NOTE_MAX = 500
COMMENT_MAX = 500


class AlreadyAnswered(Conflict):
    code = "already_answered"
    default_message = gettext_lazy("您已评价过本次处理，感谢您的反馈。")


# --------------------------------------------------------------------------- status links


def _end_of(ticket: Ticket, now: datetime) -> datetime | None:
    """When the link of an order that has ended expires; None while it is open."""
    if ticket.is_open:
        return None
    return (ticket.closed_at or ticket.cancelled_at or now) + LINK_LIFETIME


# Every new order gets its link: a statement written once per process.
LINK_INSERT = RowInsert(StatusLink)


def _link(ticket: Ticket, *, now: datetime, new: bool = False) -> tuple[StatusLink, str]:
    """The order's link and its token, creating the link if the order has none. `new`: the
    order is being created in this transaction, so it has no link and nobody else can make
    one yet (no look-up, no savepoint). The new link is kept on the instance for the other
    listeners of the same event (same `now`), which would otherwise read it back."""
    made = getattr(ticket, "_status_link", None)
    if made is not None and made[0] == now:
        return made[1], made[2]
    link = None if new else StatusLink.objects.filter(ticket=ticket).first()
    if link is None and new:
        nonce = secrets.token_hex(16)
        token = tokens.derive(ticket.pk, nonce)
        link = StatusLink(
            ticket=ticket,
            nonce=nonce,
            token_hash=tokens.digest(token),
            created_at=now,
            expires_at=_end_of(ticket, now),
        )
        LINK_INSERT.insert([link])
        ticket._status_link = (now, link, token)
        return link, token
    if link is None:
        nonce = secrets.token_hex(16)
        token = tokens.derive(ticket.pk, nonce)
        try:
            with transaction.atomic():
                link = StatusLink.objects.create(
                    ticket=ticket,
                    nonce=nonce,
                    token_hash=tokens.digest(token),
                    created_at=now,
                    expires_at=_end_of(ticket, now),
                )
            return link, token
        except IntegrityError:  # created at the same moment by someone else
            link = StatusLink.objects.get(ticket=ticket)
    for secret in tokens.secrets_in_use():
        token = tokens.derive(ticket.pk, link.nonce, secret=secret)
        if hmac.compare_digest(tokens.digest(token), link.token_hash):
            return link, token
    # SECRET_KEY changed and the old one is no longer a fallback: the old token cannot be
    # rebuilt, so the link gets a new one (links already sent stop working).
    token = tokens.derive(ticket.pk, link.nonce)
    link.token_hash = tokens.digest(token)
    link.save(update_fields=["token_hash"])
    return link, token


def status_link_for(ticket: Ticket, *, now: datetime | None = None) -> str:
    """The path of the order's status page, `/s/<token>/` (creates the link if missing)."""
    _link_row, token = _link(ticket, now=now or timezone.now())
    return reverse("customers:status", args=[token])


def status_url_for(ticket: Ticket, *, now: datetime | None = None) -> str:
    """The absolute address of the status page, for messages (`PUBLIC_BASE_URL` + path)."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + status_link_for(ticket, now=now)


def survey_url_for(ticket: Ticket, *, now: datetime | None = None) -> str:
    """The survey is on the status page; this address scrolls to it."""
    return status_url_for(ticket, now=now) + "#survey"


def status_link_lookup(token: str, *, now: datetime | None = None) -> StatusLink | None:
    """The link of a presented token, or None when it is unknown or expired. Every token,
    however malformed, costs one hash and one indexed lookup, so a wrong token and an
    expired one cannot be told apart by the answer or by its time."""
    now = now or timezone.now()
    digest = tokens.digest(token or "")
    link = (
        StatusLink.objects.select_related(
            "ticket", "ticket__category__parent", "ticket__promise_clock"
        )
        .filter(token_hash=digest)
        .first()
    )
    found = link is not None and hmac.compare_digest(link.token_hash, digest)
    if not found or (link.expires_at is not None and link.expires_at <= now):
        return None
    return link


# --------------------------------------------------------------------------- event listeners


def on_reported(*, ticket: Ticket, now: datetime, **_kw) -> None:
    _link(ticket, now=now, new=True)


def on_transition(*, ticket: Ticket, transition: str, audit_id: int, now: datetime, **_kw):
    if transition == "reply":
        survey_offer(ticket=ticket, reply_entry_id=audit_id, now=now)
    elif transition in ("close", "cancel"):
        StatusLink.objects.filter(ticket=ticket).update(expires_at=now + LINK_LIFETIME)


def survey_wait_until(ticket: Ticket, *, now: datetime) -> datetime:
    """The survey waits for the customer this share of the visit clock's target
    (`SURVEY_WAIT_SHARE`); after that the order joins the dispatchers' callback queue."""
    minutes = (
        SlaPolicy.objects.filter(kind=ClockKind.VISIT, urgency=ticket.urgency)
        .values_list("target_minutes", flat=True)
        .first()
    )
    share = max(0.0, min(1.0, float(settings.SURVEY_WAIT_SHARE)))
    return now + timedelta(minutes=(minutes or 0) * share)


def survey_offer(*, ticket: Ticket, reply_entry_id: int, now: datetime) -> Survey:
    """A reply offers the customer the survey (and makes sure the order has a link)."""
    _link(ticket, now=now)
    survey, _created = Survey.objects.get_or_create(
        reply_entry_id=reply_entry_id,
        defaults={
            "ticket": ticket,
            "offered_at": now,
            "wait_until": survey_wait_until(ticket, now=now),
        },
    )
    return survey


def current_survey(ticket: Ticket) -> Survey | None:
    """The survey of the latest reply."""
    return Survey.objects.filter(ticket=ticket).order_by("-reply_entry_id").first()


# --------------------------------------------------------------------------- customer input


def source_tag(address: str) -> str:
    """A keyed, shortened hash of the sender's address (never the address itself)."""
    if not address:
        return ""
    return salted_hmac("whistle.customers.source", address, algorithm="sha256").hexdigest()[:32]


def _locked(link: StatusLink) -> Ticket:
    # One decision at a time per order: the once-an-hour rule and a single survey answer
    # hold against two requests at once.
    return Ticket.objects.select_for_update().get(pk=link.ticket_id)


@transaction.atomic
def customer_note_add(
    *, link: StatusLink, text: str, source: str = "", now: datetime | None = None
) -> CustomerNote:
    """The customer adds information to an open order, at most once an hour."""
    now = now or timezone.now()
    text = (text or "").strip()
    if not text:
        raise Invalid(fields={"text": [_("请填写要补充的内容。")]})
    if len(text) > NOTE_MAX:
        raise Invalid(fields={"text": [_("最多 %(n)d 个字符。") % {"n": NOTE_MAX}]})
    ticket = _locked(link)
    if not ticket.is_open:
        raise InvalidState(_("工单已结束，不能再补充信息。"))
    last = (
        CustomerNote.objects.filter(ticket=ticket)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None and now - last < NOTE_INTERVAL:
        wait = int((NOTE_INTERVAL - (now - last)).total_seconds() // 60) + 1
        raise RateLimited(_("每小时只能补充一次，请 %(m)d 分钟后再试。") % {"m": wait})
    return CustomerNote.objects.create(ticket=ticket, text=text, created_at=now, source=source)


def next_note_at(ticket: Ticket) -> datetime | None:
    last = (
        CustomerNote.objects.filter(ticket=ticket)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if last is None else last + NOTE_INTERVAL


@transaction.atomic
def survey_answer(
    *,
    link: StatusLink,
    resolved: bool | None,
    satisfaction: str,
    comment: str = "",
    now: datetime | None = None,
) -> Survey:
    """满意度调查: the customer's answer to the survey of the latest reply. While the order
    awaits its visit, the answer is the visit (channel `sms_survey`, through the same
    service as a dispatcher's callback): it closes the order or proposes the redo. An answer
    after a visit has decided the order is kept and changes nothing; a second answer is
    refused."""
    now = now or timezone.now()
    errors = {}
    if resolved is None:
        errors["resolved"] = [_("请选择问题是否已解决。")]
    if satisfaction not in Satisfaction.values:
        errors["satisfaction"] = [_("请选择满意度。")]
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        errors["comment"] = [_("最多 %(n)d 个字符。") % {"n": COMMENT_MAX}]
    if errors:
        raise Invalid(fields=errors)
    ticket = _locked(link)
    survey = current_survey(ticket)
    if survey is None:
        raise InvalidState(_("工单答复后才能评价。"))
    if survey.answered:
        raise AlreadyAnswered()
    pending_redo = ticket.redo_proposals.filter(status=RequestStatus.PENDING).exists()
    decides = ticket.state == State.REPLIED and not pending_redo
    survey.answered_at = now
    survey.resolved = resolved
    survey.satisfaction = satisfaction
    survey.comment = comment
    survey.applied = decides
    survey.save()
    if decides:
        ticket_visit(
            ticket=ticket,
            by=None,
            outcome=VisitOutcome.SUCCESS,
            resolved=resolved,
            satisfaction=satisfaction,
            note=comment,
            channel=VisitChannel.SMS_SURVEY,
            now=now,
        )
    return survey


# --------------------------------------------------------------------------- hotline look-up

LOOKUP_WINDOW = timedelta(days=30)


def customer_lookup(*, by, phone: str, now: datetime | None = None) -> dict:
    """What a hotline agent's screen needs when a call comes in: the caller's open orders,
    their orders of the last 30 days, whether a new order would be a repeat, the last
    satisfaction given and the SMS opt-out. Dispatchers, supervisors and the hotline's channel
    account may look; every look-up is recorded (CustomerLookup)."""
    now = now or timezone.now()
    role = acting_role(by, "lookup_customer")
    if role is None:
        raise NotAllowed()
    if role == Role.CHANNEL:
        account = ChannelAccount.objects.filter(user=by).first()
        if account is None or account.channel != Channel.HOTLINE:
            raise NotAllowed()
    normalized = normalize_phone(phone)
    if not phone_validator.regex.match(normalized):
        raise Unprocessable(fields={"phone": [str(phone_validator.message)]})
    CustomerLookup.objects.create(actor=by, actor_role=role, phone=normalized, at=now)

    base = Ticket.objects.filter(customer_phone=normalized).select_related("category")
    open_orders = list(base.open().order_by("-reported_at")[:50])
    recent = list(base.filter(reported_at__gte=now - LOOKUP_WINDOW).order_by("-reported_at")[:50])
    last_visit = (
        base.exclude(visit_satisfaction="")
        .order_by("-visit_at", "-id")
        .values_list("visit_satisfaction", flat=True)
        .first()
    )
    return {
        "phone": normalized,
        "open_orders": open_orders,
        "recent_orders": recent,
        # A new order from this caller now would be a repeat (DESIGN.md §5: 30 days).
        "repeat": bool(recent),
        "last_satisfaction": last_visit or None,
        # Replied TD/退订 to our texts (and not cleared since): no SMS to this number.
        "opted_out": sms_opted_out(normalized),
    }
