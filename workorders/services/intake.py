"""吹哨: numbering, repeat detection, idempotent creation of an order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.copies import ProcessCopy
from accounts.lookups import RowLookup
from accounts.models import User
from accounts.statements import RowInsert, Statement
from sla import services as clocks

from .. import events
from ..errors import Conflict, IdempotencyMismatch, Invalid, NotAllowed, Unprocessable
from ..models import (
    AuditEntry,
    Category,
    CategoryUsage,
    Channel,
    IdempotencyRecord,
    Ticket,
    TicketSequence,
    Urgency,
)
from ..phones import normalize_phone
from .attachments import _store_attachment, validate_attachment
from .common import (
    _held,
    _now,
    _require,
    _stored,
)
from .dispatch import _dispatch, routing_department

REPEAT_WINDOW = timedelta(days=30)
# 发现时间 sent by a phone that kept the report while offline: at most this old, and not later
# than the server's clock by more than the skew a phone's clock may have.
FOUND_AT_MAX_AGE = timedelta(hours=72)
FOUND_AT_CLOCK_SKEW = timedelta(minutes=5)


# --------------------------------------------------------------------------- numbering


def ticket_next_number(*, now: datetime) -> str:
    """GD + local date + 6-digit daily sequence, unique under concurrent reports.

    On PostgreSQL each day has its own database sequence (`nextval` takes no lock that lasts
    to the end of the transaction, so concurrent reports never wait for each other's commit;
    a report that rolls back leaves a gap). Elsewhere (SQLite, whose writers are serialised
    anyway) one upsert of the day's counter row."""
    return _allocate(now=now)[0]


def _allocate(*, now: datetime) -> tuple[str, int | None]:
    """(number, id for the new order or None): on PostgreSQL both come from one query."""
    day = timezone.localdate(now)
    if connection.vendor == "postgresql":
        last, ticket_id = _pg_next(day)
    else:
        last, ticket_id = _counter_next(day), None
    return f"GD{day:%Y%m%d}{last:06d}", ticket_id


def _counter_next(day) -> int:
    table = TicketSequence._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f'INSERT INTO "{table}" ("day", "last") VALUES (%s, 1) '
            f'ON CONFLICT ("day") DO UPDATE SET "last" = "{table}"."last" + 1 RETURNING "last"',
            [connection.ops.adapt_datefield_value(day)],
        )
        return cur.fetchone()[0]


def _day_sequence(day) -> str:
    return f"workorders_ticket_no_{day:%Y%m%d}"


_NEXT_NUMBER_AND_ID = Statement(
    "SELECT (SELECT nextval(c.oid::regclass) FROM pg_class c "
    "WHERE c.relname = %s AND c.relkind = 'S' AND pg_table_is_visible(c.oid)), "
    f"nextval(pg_get_serial_sequence('{Ticket._meta.db_table}', 'id'))"
)


def _pg_next(day) -> tuple[int, int]:
    """The day's next number and the new order's id, in one round trip; the day's sequence
    is created by the first report of the day (a NULL number says it does not exist yet)."""
    name = _day_sequence(day)
    with connection.cursor() as cur:
        _NEXT_NUMBER_AND_ID.execute(cur, [name])
        last, ticket_id = cur.fetchone()
        if last is None:
            # Once a day: creators queue on an advisory lock (held to the end of this
            # transaction), so the second finds the first's sequence instead of failing on
            # the catalog. A day that began on the counter table continues after its value.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
            start = (
                TicketSequence.objects.filter(day=day).values_list("last", flat=True).first() or 0
            ) + 1
            cur.execute(f'CREATE SEQUENCE IF NOT EXISTS "{name}" START WITH {int(start)}')
            cur.execute("SELECT nextval(%s::regclass)", [name])
            last = cur.fetchone()[0]
    return last, ticket_id


# --------------------------------------------------------------------------- report


def find_repeat_of(*, phone: str, category: Category, now: datetime) -> Ticket | None:
    """The most recent order with the same phone and category reported in the last 30 days."""
    adapt = connection.ops.adapt_datetimefield_value
    return REPEAT_LOOKUP.get(
        normalize_phone(phone), category.pk, adapt(now - REPEAT_WINDOW), adapt(now)
    )


# Written out once per process: every report runs it, and the ORM (or `raw()`, which maps its
# columns and converters per call) spent longer on it than the database takes to run it
# (index ticket_repeat).
REPEAT_LOOKUP = RowLookup(
    Ticket,
    where='t0."customer_phone" = %s AND t0."category_id" = %s '
    'AND t0."reported_at" >= %s AND t0."reported_at" <= %s',
    order_by='t0."reported_at" DESC',
)


# Every report writes these rows: statements written once per process (RowInsert).
TICKET_INSERT = RowInsert(Ticket)
AUDIT_INSERT = RowInsert(AuditEntry)


REPORT_FIELDS = (
    "channel",
    "customer_name",
    "customer_phone",
    "customer_address",
    "customer_region",
    "star_level",
    "is_elderly",
    "claimed_escalation",
    "title",
    "description",
    "latitude",
    "longitude",
    "found_at",
)


def _fingerprint(data: dict) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()


def ticket_report(
    *,
    by: User,
    category: Category | None,
    customer_phone: str,
    description: str,
    urgency: str | None = None,
    urgency_reason: str = "",
    attachments: Sequence = (),
    idempotency_key: str | None = None,
    fingerprint_extra: dict | None = None,
    now: datetime | None = None,
    **fields,
) -> Ticket:
    """吹哨: create an order in `reported`, start the dispatch and promise clocks, flag a repeat,
    and dispatch it at once when the category routes automatically.

    With an idempotency key, the same key and request again returns the first order
    (`ticket.replayed` is True); the same key with another request is refused."""
    role = _require(by, "report")
    unknown = set(fields) - set(REPORT_FIELDS)
    if unknown:
        raise TypeError(f"unknown report fields: {sorted(unknown)}")
    return _report(
        by=by,
        role=role,
        category=category,
        customer_phone=customer_phone,
        description=description,
        urgency=urgency,
        urgency_reason=urgency_reason,
        attachments=attachments,
        idempotency_key=idempotency_key,
        fingerprint_extra=fingerprint_extra,
        now=now,
        **fields,
    )


def _report(
    *,
    by: User,
    role: str,
    category: Category | None,
    customer_phone: str,
    description: str,
    urgency: str | None = None,
    urgency_reason: str = "",
    attachments: Sequence = (),
    idempotency_key: str | None = None,
    fingerprint_extra: dict | None = None,
    now: datetime | None = None,
    **fields,
) -> Ticket:
    """The creation itself, for a caller whose right is checked (`role`)."""
    now = _now(now)
    fingerprint = None
    if idempotency_key:
        fingerprint = _fingerprint(
            {
                "category": category.pk if category else None,
                "customer_phone": customer_phone,
                "description": description,
                "urgency": urgency,
                "urgency_reason": urgency_reason,
                "attachments": [getattr(a, "name", "") for a in attachments],
                **fields,
                **(fingerprint_extra or {}),
            }
        )
        existing = _idempotent_replay(by, idempotency_key, fingerprint)
        if existing is not None:
            return existing

    errors: dict[str, list[str]] = {}
    if category is None:
        errors["category"] = [_("请选择问题分类。")]
    elif not category.is_active:
        errors["category"] = [_("该分类已停用。")]
    if urgency and urgency not in Urgency.values:
        errors["urgency"] = [_("紧急程度无效。")]
    if len(attachments) > 6:
        errors["attachments"] = [_("最多上传 6 张图片。")]
    for upload in attachments[:6]:
        try:
            validate_attachment(upload)
        except Invalid as exc:
            errors.setdefault("attachments", []).extend(exc.fields["attachments"])
    default_urgency = category.default_urgency if category else Urgency.GENERAL
    urgency = urgency or default_urgency
    urgency_reason = (urgency_reason or "").strip()
    if category and urgency != default_urgency and not urgency_reason:
        errors["urgency_reason"] = [_("修改系统建议的紧急程度时请说明原因。")]
    found_at_error = _found_at_error(fields.get("found_at"), now)
    if found_at_error:
        errors["found_at"] = [found_at_error]

    ticket = Ticket(
        reporter=by,
        reporter_department=by.department,
        reported_at=now,
        category=category,
        urgency=urgency,
        urgency_reason=urgency_reason,
        customer_phone=normalize_phone(customer_phone),
        description=(description or "").strip(),
        number="GD00000000000000",
        **fields,
    )
    # The regulator's transfers run the statutory clock from the start.
    ticket.is_regulator = ticket.channel == Channel.REGULATOR
    try:
        # The state is the FSM's; full_clean would assign it. The reporter, their department
        # and the category are rows just read: checking that they exist would cost a query
        # each. The (channel, external id) constraint only binds a channel's intake.
        exclude = ["number", "state", "promise_clock", "version"]
        exclude += ["reporter", "reporter_department", "category"]
        ticket.full_clean(exclude=exclude, validate_constraints=bool(ticket.external_id))
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise Invalid(fields=errors)

    try:
        with transaction.atomic():
            if idempotency_key:
                record = _idempotency_claim(by, idempotency_key, fingerprint)
            ticket.number, ticket_id = _allocate(now=now)
            repeat_of = find_repeat_of(phone=ticket.customer_phone, category=category, now=now)
            if repeat_of is not None:
                ticket.is_repeat = True
                ticket.repeat_of = repeat_of
            # The clocks are computed first so the order is written once with its promise
            # due time. On PostgreSQL the order's id is known (above) and its clocks go in
            # before it (the foreign keys are checked at commit), so it is inserted complete;
            # elsewhere it is inserted, then linked to its promise clock.
            started = clocks.clocks_for_report(ticket=ticket, now=now)
            if ticket_id is not None:
                ticket.pk = ticket_id
                clocks.clocks_insert(ticket=ticket, clocks=started)
                TICKET_INSERT.insert([ticket])
            else:
                TICKET_INSERT.insert([ticket])
                clocks.clocks_insert(ticket=ticket, clocks=started)
                ticket.save(update_fields=["promise_clock"])
            entry = AuditEntry(
                ticket=ticket,
                transition="report",
                source="",
                target=ticket.state,
                actor=by,
                actor_role=role,
                at=now,
                comment=ticket.summary,
                data={"repeat_of": repeat_of.number} if repeat_of else {},
            )
            AUDIT_INSERT.insert([entry])
            # The rows the report wrote, in hand, for listeners that would read them back.
            events.publish(events.REPORTED, ticket=ticket, now=now, clocks=started, audit=entry)
            for upload in attachments:
                _store_attachment(ticket, by, upload, now)
            routed = routing_department(category) if category.auto_dispatch else None
            if routed is not None:
                # The new row is this transaction's (as good as locked): held, so the dispatch's
                # audit is announced once the dispatch is done (its clocks stopped and started:
                # the KPI roll-up counts them), not before.
                with _held(ticket):
                    _dispatch(
                        ticket,
                        by=None,
                        department=routed,
                        now=now,
                        comment=_stored(gettext_lazy("按分类路由规则自动派单")),
                        co_departments=(),
                    )
            if idempotency_key:
                record.ticket = ticket
                record.save(update_fields=["ticket"])
            # Last: the reporter's row of the roll-up stays locked only until the commit.
            _count_usage(by, category, now)
    except _Replayed as replay:
        return replay.ticket
    ticket.replayed = False
    # What the order looks like now, in hand, for an interface that shows it at once (the
    # API's 201): its clocks as started. Not after an automatic dispatch, which moved them.
    ticket.started_clocks = started if routed is None else None
    return ticket


def _found_at_error(found_at: datetime | None, now: datetime) -> str:
    """Why a reported 发现时间 cannot be right ('' when it can): not in the future, not older
    than FOUND_AT_MAX_AGE."""
    if found_at is None:
        return ""
    if found_at > now + FOUND_AT_CLOCK_SKEW:
        return _("发现时间不能晚于当前时间。")
    if found_at < now - FOUND_AT_MAX_AGE:
        return _("发现时间不能早于%(hours)d小时前。") % {
            "hours": int(FOUND_AT_MAX_AGE.total_seconds() // 3600)
        }
    return ""


def _count_usage(user: User, category: Category, now: datetime) -> None:
    """One more order by `user` in `category` this month (CategoryUsage), as one upsert."""
    month = timezone.localdate(now).replace(day=1)
    with connection.cursor() as cur:
        _COUNT_USAGE.execute(
            cur,
            [
                user.pk,
                category.pk,
                connection.ops.adapt_datefield_value(month),
                connection.ops.adapt_datetimefield_value(now),
            ],
        )


_USAGE = CategoryUsage._meta.db_table
_COUNT_USAGE = Statement(
    f'INSERT INTO "{_USAGE}" ("user_id", "category_id", "month", "count", "last_used") '
    "VALUES (%s, %s, %s, 1, %s) "
    'ON CONFLICT ("user_id", "month", "category_id") DO UPDATE SET '
    f'"count" = "{_USAGE}"."count" + 1, "last_used" = CASE '
    f'WHEN excluded."last_used" > "{_USAGE}"."last_used" THEN excluded."last_used" '
    f'ELSE "{_USAGE}"."last_used" END'
)


class _Replayed(Exception):
    def __init__(self, ticket: Ticket):
        self.ticket = ticket


def _idempotent_replay(user: User, key: str, fingerprint: str) -> Ticket | None:
    record = IdempotencyRecord.objects.filter(user=user, key=key).select_related("ticket").first()
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyMismatch()
    if record.ticket is None:
        return None
    record.ticket.replayed = True
    return record.ticket


def _idempotency_claim(user: User, key: str, fingerprint: str) -> IdempotencyRecord:
    """Insert the key first: a concurrent request with the same key waits on the unique index
    and then finds the finished order instead of creating a second one."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        pass
    existing = _idempotent_replay(user, key, fingerprint)
    if existing is None:
        raise Conflict(_("同一请求正在处理中，请稍后刷新查看。"))
    raise _Replayed(existing)


def idempotency_lookup(*, user: User, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """For interfaces that replay a stored response (the API's transitions)."""
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is not None and record.fingerprint != fingerprint:
        raise IdempotencyMismatch()
    return record


# --------------------------------------------------------------------------- channel intake

INTAKE_FIELDS = (
    "customer_name",
    "customer_address",
    "customer_region",
    "star_level",
    "is_elderly",
    "claimed_escalation",
    "title",
)


def category_by_ref(ref) -> Category | None:
    """A category by its numeric id or its code (the API accepts either), or None."""
    if isinstance(ref, Category):
        return ref
    if ref is None or isinstance(ref, bool):
        return None
    text = str(ref).strip()
    if not text or "\x00" in text:
        return None
    by_id, by_code = CATEGORIES.get()
    if text.isdigit():
        found = by_id.get(int(text))
        if found is not None:
            return found
    return by_code.get(text)


def _categories() -> tuple[dict[int, Category], dict[str, Category]]:
    """Every category with its routing rule's department (which the new order's page shows),
    by id and by code: a few dozen rows that every report looks up."""
    rows = list(Category.objects.select_related("default_department"))
    return {c.pk: c for c in rows}, {c.code: c for c in rows}


# Kept per process (accounts.copies: a write to a category or a department clears it; the
# app's ready() watches both). The instances are shared: callers read them, never change them.
CATEGORIES: ProcessCopy[tuple[dict, dict]] = ProcessCopy("workorders.categories", _categories)


def ticket_intake(
    *,
    by: User,
    external_id: str,
    category,
    customer_phone: str,
    description: str,
    channel: str | None = None,
    agent: str = "",
    attachments: Sequence = (),
    now: datetime | None = None,
    **fields,
) -> Ticket:
    """A channel system files an order for its own channel; its id for the contact makes the
    call idempotent: the same `external_id` from the same channel again returns the first
    order (`ticket.replayed`), even when two copies arrive at once. Input that cannot become
    an order is Unprocessable (422)."""
    from ..models import ChannelAccount

    role = _require(by, "intake")
    account = ChannelAccount.objects.filter(user=by).first()
    if account is None:
        raise NotAllowed()
    unknown = set(fields) - set(INTAKE_FIELDS)
    if unknown:
        raise TypeError(f"unknown intake fields: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    if channel and channel != account.channel:
        errors["channel"] = [
            _("该账号只能提交本渠道（%(channel)s）的工单。")
            % {"channel": account.get_channel_display()}
        ]
    external_id = (external_id or "").strip()
    if not external_id:
        errors["external_id"] = [_("此项为必填项。")]
    elif len(external_id) > 64:
        errors["external_id"] = [_("最多 %(n)d 个字符。") % {"n": 64}]
    found = category_by_ref(category)
    if found is None:
        errors["category"] = [_("问题分类不存在：%(ref)s") % {"ref": str(category)[:64]}]
    if errors:
        raise Unprocessable(fields=errors)

    existing = _intake_replay(account.channel, external_id)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _report(
                by=by,
                role=role,
                category=found,
                customer_phone=customer_phone,
                description=description,
                attachments=attachments,
                now=now,
                channel=account.channel,
                external_id=external_id,
                intake_agent=(agent or "").strip()[:64],
                **fields,
            )
    except Invalid as exc:
        # Model validation also checks the (channel, external_id) constraint: a copy that
        # committed since the look-up above is a replay, not an error.
        existing = _intake_replay(account.channel, external_id)
        if existing is not None:
            return existing
        raise Unprocessable(fields=exc.fields) from None
    except IntegrityError:
        # A copy of the same contact committed first (the unique (channel, external_id)).
        existing = _intake_replay(account.channel, external_id)
        if existing is None:
            raise
        return existing


def _intake_replay(channel: str, external_id: str) -> Ticket | None:
    ticket = Ticket.objects.filter(channel=channel, external_id=external_id).first()
    if ticket is not None:
        ticket.replayed = True
    return ticket
