"""The SMS channel: texts to customers through the outbox, the rules that hold when a text is
sent, and what comes back (delivery receipts, replies, opt-outs).

Writing. `sms_enqueue` writes the text as an outbox row (`Delivery`, channel sms) in the
transaction of the change that causes it. Nothing is written for a fixed line (no SMS) or a
number that opted out. A text waits `SMS_COALESCE_SECONDS` before it is due; while a text of
the same order waits (not yet tried, not yet due — in its coalescing wait, or held for the
morning), a newer event of that order *replaces* its content instead of adding a second text:
the customer hears the latest state once. The row keeps its idempotency key (nothing was sent
under it yet) and lists the events it absorbed in `payload["coalesced"]`.

Sending (`sms_send`, the outbox's sender for the channel) decides at send time, because a
held text may wait for hours:
- a number that opted out meanwhile gets nothing (the row is *skipped*, with the reason);
- in quiet hours (`SMS_QUIET_HOURS`, local time) the text is deferred to their end, unless
  the order is urgent and `SMS_QUIET_URGENT_EXEMPT`;
- at most `SMS_DAILY_CAP` texts per number and local day: just before it is sent, a text takes
  a place in its number's count of the day (`SmsDailyCount`, one atomic upsert that also
  checks the opt-out) and gives it back if the platform does not take the text. A text over
  the cap is skipped, not held for tomorrow: by then it would be old news, and the status
  page has the current state. (A relay killed while sending leaves its place taken: its
  retry counts again, so such a number may get one text fewer that day, never one more.)
The opt-out confirmation is exempt from all three (the customer has just written to us).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.copies import ProcessCopy
from accounts.lookups import RowLookup
from workorders.errors import Invalid, NotAllowed

from .models import (
    Channel,
    Delivery,
    DeliveryStatus,
    ReceiptStatus,
    SmsDailyCount,
    SmsEvent,
    SmsInbound,
    SmsOptOut,
    SmsTemplate,
)
from .outbox import Defer, SendError, Sent, Skip, deliveries_enqueue
from .sms import SmsError, SmsMessage, get_backend, sms_segments
from .sms_templates import template_render

log = logging.getLogger(__name__)

OPT_OUT_WORDS = ("TD", "T", "退订", "0000")
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def is_mobile(phone: str) -> bool:
    return bool(MOBILE.match(phone or ""))


def phone_from_platform(raw: str) -> str:
    """The number as orders store it: digits only, without the country code (+86)."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


# Every report and transition that texts the customer asks: a statement written once per
# process (`RowLookup`), where the ORM spent longer compiling `.exists()` than the database
# takes to answer it.
STANDING_OPT_OUT = RowLookup(SmsOptOut, where='t0."phone" = %s AND t0."cleared_at" IS NULL')


def opted_out(phone: str) -> bool:
    return STANDING_OPT_OUT.get(phone) is not None


# --------------------------------------------------------------------------- writing


# The active template of each event (one at most: a constraint), read once per process until
# a template is written (accounts.copies; watched from the app's ready()).
ACTIVE_TEMPLATES: ProcessCopy[dict[str, SmsTemplate]] = ProcessCopy(
    "sms_templates", lambda: {t.event: t for t in SmsTemplate.objects.filter(active=True)}
)


def sms_render(event: str, params: dict) -> dict | None:
    """The payload of a text: the event's active template filled in, the sign name before it,
    its segment count. None when the event has no active template (nothing is sent)."""
    template = ACTIVE_TEMPLATES.get().get(event)
    if template is None:
        log.warning("sms: no active template for %s, nothing sent", event)
        return None
    text = settings.SMS_SIGN_NAME + template_render(template.text, params)
    return {
        "event": event,
        "template": template.code,
        "params": params,
        "text": text,
        "sign_name": settings.SMS_SIGN_NAME,
    }


def _due(now: datetime) -> datetime:
    # As the outbox does: a change recorded for another instant neither postpones nor
    # backdates its text beyond the real clock.
    return min(now, timezone.now()) + timedelta(seconds=settings.SMS_COALESCE_SECONDS)


def sms_enqueue(
    *,
    ticket,
    event: str,
    ref: str,
    params: dict,
    now: datetime,
    urgent: bool = False,
    new_order: bool = False,
) -> Delivery | None:
    """Tell the order's customer about `event` (in the caller's transaction): one text, or the
    waiting text of the same order updated to this event (see the module's docstring). `ref`
    names the event (its audit row) and makes the key: writing the same event twice sends
    once. Returns the row, or None when nothing is sent (fixed line, opted out, no template).
    `new_order`: the order was created in the caller's transaction, so no text of it waits."""
    phone = ticket.customer_phone
    if not is_mobile(phone) or opted_out(phone):
        return None
    payload = sms_render(event, params)
    if payload is None:
        return None
    payload["urgent"] = bool(urgent)
    segments = sms_segments(payload["text"])
    if settings.SMS_COALESCE_SECONDS > 0 and not new_order:
        waiting = (
            Delivery.objects.filter(
                channel=Channel.SMS,
                ticket=ticket,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at__gt=now,
            )
            .exclude(kind=SmsEvent.OPT_OUT)
            .order_by("-id")
            .first()
        )
        if waiting is not None:
            payload["coalesced"] = [
                *waiting.payload.get("coalesced", []),
                waiting.payload.get("event", waiting.kind),
            ]
            # Only while it is still untried and not due: a relay that claimed it meanwhile
            # sends the old text, and this event gets its own.
            if Delivery.objects.filter(
                pk=waiting.pk, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at__gt=now
            ).update(kind=event, payload=payload, segments=segments, address=phone):
                return waiting
    row = Delivery(
        channel=Channel.SMS,
        key=f"sms:{ticket.pk}:{event}:{ref}",
        kind=event,
        ticket=ticket,
        address=phone,
        payload=payload,
        segments=segments,
        created_at=now,
        next_attempt_at=_due(now),
    )
    deliveries_enqueue([row])
    return row


# --------------------------------------------------------------------------- sending


def _clock(value: str) -> time:
    hours, _sep, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def quiet_hours() -> tuple[time, time] | None:
    """(start, end) of `SMS_QUIET_HOURS` ("21:00-08:00"), or None when there are none."""
    raw = (settings.SMS_QUIET_HOURS or "").strip()
    if not raw:
        return None
    start, _sep, end = raw.partition("-")
    start, end = _clock(start), _clock(end)
    return None if start == end else (start, end)


def quiet_until(now: datetime, *, urgent: bool = False) -> datetime | None:
    """When quiet hours that hold at `now` end (local time), or None when a text may go."""
    window = quiet_hours()
    if window is None or (urgent and settings.SMS_QUIET_URGENT_EXEMPT):
        return None
    start, end = window
    local = timezone.localtime(now)
    t = local.time()
    # A window like 21:00-08:00 runs across midnight.
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until


def _take_place(phone: str, today) -> bool:
    """Count a text against the number's day, unless the number opted out or its day is full:
    one atomic upsert (the row of the number and day is locked by it, so two relays sending
    to one number cannot both take its last place), one round trip per text."""
    table = SmsDailyCount._meta.db_table
    sql = (
        f"INSERT INTO {table} (phone, day, sent)"
        f" SELECT %s, %s, 1 WHERE NOT EXISTS (SELECT 1 FROM {SmsOptOut._meta.db_table}"
        "   WHERE phone = %s AND cleared_at IS NULL)"
        f" ON CONFLICT (phone, day) DO UPDATE SET sent = {table}.sent + 1"
        f" WHERE {table}.sent < %s"
        " RETURNING sent"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [phone, today, phone, settings.SMS_DAILY_CAP])
        return cur.fetchone() is not None


def _send_rules(delivery: Delivery, now: datetime):
    """Skip a text to a number that opted out or whose day is full; otherwise count it and
    return the day it was counted on (None without a cap)."""
    if settings.SMS_DAILY_CAP <= 0:
        if opted_out(delivery.address):
            raise Skip(_("客户已退订"))
        return None
    today = timezone.localdate(now)
    if not _take_place(delivery.address, today):
        if opted_out(delivery.address):
            raise Skip(_("客户已退订"))
        raise Skip(_("已达每日上限（%(n)d 条）") % {"n": settings.SMS_DAILY_CAP})
    return today


def _give_back(phone: str, day) -> None:
    """The platform did not take the text: its place under the cap is free again."""
    if day is not None:
        SmsDailyCount.objects.filter(phone=phone, day=day, sent__gt=0).update(sent=F("sent") - 1)


def sms_counts_prune(*, now: datetime | None = None) -> int:
    """Forget the daily counts of days before yesterday."""
    before = timezone.localdate(now or timezone.now()) - timedelta(days=1)
    return SmsDailyCount.objects.filter(day__lt=before).delete()[0]


def sms_send(delivery: Delivery) -> int | None:
    """The outbox's sender for SMS: apply the send-time rules (module docstring), hand the text
    to the backend with the row's key, and keep the platform's message id for its receipt.
    A refusal the backend calls temporary is retried by the outbox; any other fails the row."""
    payload = delivery.payload
    phone = delivery.address
    now = timezone.now()
    if not is_mobile(phone):
        raise Skip(_("不是手机号码"))
    counted = None
    if payload.get("event") != SmsEvent.OPT_OUT:
        until = quiet_until(now, urgent=payload.get("urgent", False))
        if until is not None:
            raise Defer(until, "quiet hours")
        counted = _send_rules(delivery, now)
    message = SmsMessage(
        to=phone,
        text=payload.get("text", ""),
        template_code=payload.get("template", ""),
        params=payload.get("params", {}),
        key=delivery.key,
        sign_name=payload.get("sign_name", ""),
        segments=delivery.segments or 0,
    )
    try:
        sent = get_backend().send(message)
    except SmsError as exc:
        _give_back(phone, counted)
        raise SendError(exc.message, code=exc.code, permanent=not exc.temporary) from exc
    except BaseException:
        _give_back(phone, counted)
        raise
    # Kept with the row's "sent" (one write): the platform names the text in its receipt.
    return Sent(sent.status_code, {"provider_message_id": sent.provider_id})


# --------------------------------------------------------------------------- coming back


def sms_receipt_record(
    *,
    key: str = "",
    message_id: str = "",
    status: str,
    error: str = "",
    at: datetime | None = None,
    now: datetime | None = None,
) -> Delivery | None:
    """A delivery receipt from the platform (by our key or its message id): delivered or
    failed, kept on the row. The first receipt of a text counts; a repeat changes nothing.
    None for a text we do not know."""
    if status not in ReceiptStatus.values:
        raise Invalid(fields={"status": [_("回执状态无效。")]})
    qs = Delivery.objects.filter(channel=Channel.SMS)
    if key:
        qs = qs.filter(key=key)
    elif message_id:
        qs = qs.filter(provider_message_id=message_id)
    else:
        raise Invalid(fields={"key": [_("缺少消息标识。")]})
    row = qs.first()
    if row is None:
        return None
    Delivery.objects.filter(pk=row.pk, receipt_status="").update(
        receipt_status=status, receipt_at=at or now or timezone.now(), receipt_error=error[:200]
    )
    row.refresh_from_db()
    return row


def is_opt_out(text: str) -> str | None:
    """The opt-out word a reply consists of (TD, T, 退订, 0000; case and spaces ignored)."""
    word = re.sub(r"\s+", "", text or "").upper()
    return word if word in OPT_OUT_WORDS else None


@transaction.atomic
def sms_inbound_receive(
    *, provider_id: str, phone: str, text: str, now: datetime | None = None
) -> tuple[SmsInbound, bool]:
    """A customer's reply: kept once per platform id (a repeated callback is a no-op); an
    opt-out word records the opt-out. Returns (the reply, whether this call recorded it)."""
    now = now or timezone.now()
    phone = phone_from_platform(phone)
    if not provider_id or not phone:
        raise Invalid(fields={"id": [_("缺少消息编号或号码。")]})
    word = is_opt_out(text)
    try:
        with transaction.atomic():
            inbound = SmsInbound.objects.create(
                provider_id=provider_id[:64],
                phone=phone,
                text=(text or "")[:500],
                received_at=now,
                opt_out=word is not None,
            )
    except IntegrityError:
        return SmsInbound.objects.get(provider_id=provider_id[:64]), False
    if word is not None:
        sms_opt_out(phone=phone, source=f"sms:{word}", now=now)
    return inbound, True


def _latest_order(phone: str):
    from workorders.models import Ticket

    return Ticket.objects.filter(customer_phone=phone).order_by("-reported_at", "-id").first()


@transaction.atomic
def sms_opt_out(*, phone: str, source: str, now: datetime | None = None) -> SmsOptOut | None:
    """Record that the number wants no more texts, and send it one confirmation. A number that
    has opted out already is left as it is (no second confirmation); returns the new or
    renewed opt-out, or None when there was one already."""
    now = now or timezone.now()
    row = SmsOptOut.objects.select_for_update().filter(phone=phone).first()
    if row is not None and row.cleared_at is None:
        return None
    ticket = _latest_order(phone)
    if row is None:
        try:
            with transaction.atomic():
                row = SmsOptOut.objects.create(phone=phone, at=now, source=source, ticket=ticket)
        except IntegrityError:
            return None  # opted out at this very moment by another reply
    else:
        row.at, row.source, row.ticket = now, source, ticket
        row.cleared_at = row.cleared_by = None
        row.save()
    payload = sms_render(SmsEvent.OPT_OUT, {})
    if payload is not None:
        payload["urgent"] = False
        deliveries_enqueue(
            [
                Delivery(
                    channel=Channel.SMS,
                    key=f"sms:optout:{row.pk}:{now:%Y%m%d%H%M%S%f}",
                    kind=SmsEvent.OPT_OUT,
                    ticket=ticket,
                    address=phone,
                    payload=payload,
                    segments=sms_segments(payload["text"]),
                    created_at=now,
                )
            ]
        )
    return row


def may_clear_opt_out(user) -> bool:
    """Customer service (dispatchers, who call customers back) and superusers."""
    from accounts.roles import Role

    if user is None or not user.is_active:
        return False
    return user.is_superuser or Role.DISPATCHER in user.roles


@transaction.atomic
def sms_opt_out_clear(*, opt_out: SmsOptOut, by, now: datetime | None = None) -> SmsOptOut:
    """Lift an opt-out (the customer asked for texts again): texts are sent from now on."""
    if not may_clear_opt_out(by):
        raise NotAllowed()
    row = SmsOptOut.objects.select_for_update().get(pk=opt_out.pk)
    if row.cleared_at is None:
        row.cleared_at = now or timezone.now()
        row.cleared_by = by
        row.save(update_fields=["cleared_at", "cleared_by"])
    return row
