"""Every write use case of the workflow. Each service checks the actor's right (through
`accounts.permissions`), runs the FSM transition, saves, writes the audit row and moves the
SLA clocks, all in one database transaction. Interfaces call these and nothing else."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, can_proceed

from accounts.models import Department, User
from accounts.permissions import TRANSITIONS, acting_role
from accounts.roles import Role
from notifications.services import notify_chase, notify_transition
from sla import services as clocks
from sla.models import ClockKind

from .errors import Conflict, IdempotencyMismatch, Invalid, InvalidState, NotAllowed, RateLimited
from .models import (
    Attachment,
    AuditEntry,
    Category,
    Chase,
    CoHandling,
    Comment,
    ExtensionRequest,
    IdempotencyRecord,
    RedoProposal,
    RequestStatus,
    ReturnRuling,
    Satisfaction,
    State,
    Supervision,
    SuspensionReason,
    SuspensionRequest,
    Ticket,
    TicketSequence,
    Urgency,
    VisitOutcome,
)
from .phones import normalize_phone

REPEAT_WINDOW = timedelta(days=30)
CHASE_INTERVAL = timedelta(minutes=10)
ALLOWED_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}
URGENT_CATEGORY_CODES = {"payment_reconnect", "abnormal_suspension"}


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _require(by, action: str, ticket: Ticket | None = None) -> str:
    role = acting_role(by, action, ticket)
    if role is None:
        # A role that may take this transition, on an order in a state it does not start from,
        # hears about the state, not about rights: the scope rules read fields that the wrong
        # state lacks (a reported order has no department, a dispatched one no handler yet).
        if ticket is not None and action in TRANSITIONS and acting_role(by, action) is not None:
            _check_state(ticket, action)
        raise NotAllowed()
    return role


def _require_transition(by, name: str, ticket: Ticket) -> str:
    """Right, then state — before any input is validated: on an order that has moved on, the
    user learns that, not that a field they would fill in vain is missing."""
    role = _require(by, name, ticket)
    _check_state(ticket, name)
    return role


def _check_state(ticket: Ticket, name: str) -> None:
    if not can_proceed(getattr(ticket, name)):
        raise InvalidState(
            _("工单当前状态为“%(state)s”，不能执行此操作。") % {"state": ticket.get_state_display()}
        )


def _snapshot(ticket: Ticket) -> dict:
    return {f.attname: getattr(ticket, f.attname) for f in ticket._meta.concrete_fields}


def _save(ticket: Ticket, before: dict) -> None:
    """Save only what changed, guarded by the FSM's optimistic lock on the state."""
    changed = [k for k, v in _snapshot(ticket).items() if before.get(k) != v]
    ticket.version += 1
    fields = {f.attname: f.name for f in ticket._meta.concrete_fields}
    update = sorted({fields[a] for a in changed} | {"version", "updated_at"})
    try:
        ticket.save(update_fields=update)
    except ConcurrentTransition:
        raise Conflict() from None


def _audit(
    ticket: Ticket,
    *,
    transition: str,
    source: str,
    by: User | None,
    role: str,
    now: datetime,
    comment: str = "",
    data: dict | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        ticket=ticket,
        transition=transition,
        source=source,
        target=ticket.state,
        actor=by,
        actor_role=role,
        at=now,
        comment=comment or "",
        data=data or {},
    )


def _transition(
    ticket: Ticket,
    name: str,
    *,
    actor: User | None,
    at: datetime,
    comment: str = "",
    data: dict | None = None,
    **kwargs,
) -> AuditEntry:
    """Right, then state, then the transition, the guarded save and the audit row."""
    role = _require(actor, name, ticket)
    method = getattr(ticket, name)
    _check_state(ticket, name)
    source = ticket.state
    before = _snapshot(ticket)
    method(**kwargs)
    _save(ticket, before)
    entry = _audit(
        ticket,
        transition=name,
        source=source,
        by=actor,
        role=role,
        now=at,
        comment=comment,
        data=data,
    )
    notify_transition(ticket=ticket, transition=name, actor=actor, audit_id=entry.pk, now=at)
    return entry


def _stored(text) -> str:
    """Text the system writes into the record (audit comments, reasons) is in the site
    language, like the rest of the record, whatever language the actor's screen is in."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def _text(value: str | None, field: str, *, required: bool = True, max_length: int = 500) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(fields={field: [_("此项为必填项。")]})
    if len(value) > max_length:
        raise Invalid(fields={field: [_("最多 %(n)d 个字符。") % {"n": max_length}]})
    return value


def _department_member(user: User | None, department: Department, field: str) -> None:
    if user is None:
        return
    # A handler of the department's team (below it) or of the line above it.
    if user.department_id is None or not (
        user.department.is_within(department) or department.is_within(user.department)
    ):
        raise Invalid(fields={field: [_("处理人必须属于该工单的责任部门。")]})
    if Role.HANDLER not in user.roles and Role.LEAD not in user.roles:
        raise Invalid(fields={field: [_("所选人员不是处理人。")]})


def _active_department(department: Department | None, field: str = "department") -> Department:
    if department is None:
        raise Invalid(fields={field: [_("请选择部门。")]})
    if not department.is_active:
        raise Invalid(fields={field: [_("该部门已停用。")]})
    return department


def validate_attachment(upload) -> str:
    """The file's real type (from its bytes, not its name) or a clear error."""
    size = getattr(upload, "size", None) or 0
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise Invalid(
            fields={
                "attachments": [
                    _("“%(name)s”超过 %(mb)d MB，请压缩后再上传。")
                    % {"name": upload.name, "mb": limit // (1024 * 1024)}
                ]
            }
        )
    if size == 0:
        raise Invalid(fields={"attachments": [_("“%(name)s”是空文件。") % {"name": upload.name}]})
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_IMAGE_TYPES:
        raise Invalid(
            fields={
                "attachments": [
                    _("“%(name)s”不是支持的图片格式（JPEG、PNG、WebP、HEIC）。")
                    % {"name": upload.name}
                ]
            }
        )
    return kind.mime


# --------------------------------------------------------------------------- numbering


def ticket_next_number(*, now: datetime) -> str:
    """GD + local date + 6-digit daily sequence; the row lock of the UPDATE serialises
    concurrent reports, so numbers are unique without gaps or retries."""
    day = timezone.localdate(now)
    TicketSequence.objects.bulk_create([TicketSequence(day=day, last=0)], ignore_conflicts=True)
    TicketSequence.objects.filter(day=day).update(last=F("last") + 1)
    last = TicketSequence.objects.filter(day=day).values_list("last", flat=True).get()
    return f"GD{day:%Y%m%d}{last:06d}"


# --------------------------------------------------------------------------- report


def find_repeat_of(*, phone: str, category: Category, now: datetime) -> Ticket | None:
    """The most recent order with the same phone and category reported in the last 30 days."""
    return (
        Ticket.objects.filter(
            customer_phone=normalize_phone(phone),
            category=category,
            reported_at__gte=now - REPEAT_WINDOW,
            reported_at__lte=now,
        )
        .order_by("-reported_at")
        .first()
    )


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
    now = _now(now)
    role = _require(by, "report")
    unknown = set(fields) - set(REPORT_FIELDS)
    if unknown:
        raise TypeError(f"unknown report fields: {sorted(unknown)}")

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
    try:
        # The state is the FSM's; full_clean would assign it.
        exclude = ["number", "state", "promise_clock", "version"]
        ticket.full_clean(exclude=[*exclude, "category"] if category is None else exclude)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise Invalid(fields=errors)

    try:
        with transaction.atomic():
            if idempotency_key:
                record = _idempotency_claim(by, idempotency_key, fingerprint)
            ticket.number = ticket_next_number(now=now)
            repeat_of = find_repeat_of(phone=ticket.customer_phone, category=category, now=now)
            if repeat_of is not None:
                ticket.is_repeat = True
                ticket.repeat_of = repeat_of
            ticket.save()
            clocks.clock_start(ticket=ticket, kind=ClockKind.DISPATCH, now=now)
            clocks.clock_start(ticket=ticket, kind=ClockKind.PROMISE, now=now)
            ticket.save(update_fields=["promise_clock", "promise_due_at"])
            AuditEntry.objects.create(
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
            for upload in attachments:
                _store_attachment(ticket, by, upload, now)
            if (
                category.auto_dispatch
                and category.default_department_id
                and category.default_department.is_active
            ):
                _dispatch(
                    ticket,
                    by=None,
                    department=category.default_department,
                    now=now,
                    comment=_stored(gettext_lazy("按分类路由规则自动派单")),
                    co_departments=(),
                )
            if idempotency_key:
                record.ticket = ticket
                record.save(update_fields=["ticket"])
    except _Replayed as replay:
        return replay.ticket
    ticket.replayed = False
    return ticket


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


def _store_attachment(ticket: Ticket, by: User, upload, now: datetime) -> Attachment:
    mime = validate_attachment(upload)
    return Attachment.objects.create(
        ticket=ticket,
        uploaded_by=by,
        file=upload,
        original_name=(upload.name or "photo")[:200],
        content_type=mime,
        size=upload.size,
        created_at=now,
    )


# --------------------------------------------------------------------------- dispatch stage


def _dispatch(ticket, *, by, department, now, comment="", co_departments: Iterable = ()):
    _active_department(department)
    _transition(
        ticket,
        "dispatch",
        actor=by,
        at=now,
        comment=comment,
        data={"department": department.name, "system": by is None},
        department=department,
        by=by,
        now=now,
    )
    clocks.clock_stop(ticket=ticket, kind=ClockKind.DISPATCH, now=now)
    clocks.clock_start(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now, department=department)
    _add_cohandling(ticket, by=by, departments=co_departments, note="", now=now)
    ticket.save(update_fields=["promise_clock", "promise_due_at"])


@transaction.atomic
def ticket_dispatch(
    *,
    ticket: Ticket,
    by: User | None,
    department: Department | None,
    co_departments: Iterable[Department] = (),
    comment: str = "",
    now: datetime | None = None,
) -> Ticket:
    """派单: send a reported order to the responsible department (and co-handlers)."""
    now = _now(now)
    _require_transition(by, "dispatch", ticket)
    _dispatch(
        ticket,
        by=by,
        department=_active_department(department),
        now=now,
        comment=comment,
        co_departments=co_departments,
    )
    return ticket


@transaction.atomic
def ticket_redispatch(
    *,
    ticket: Ticket,
    by: User,
    department: Department | None,
    reason: str,
    now: datetime | None = None,
) -> Ticket:
    """转派: move an order to another department; its sign-for clock starts again there."""
    now = _now(now)
    _require_transition(by, "redispatch", ticket)
    department = _active_department(department)
    reason = _text(reason, "reason")
    if department.pk == ticket.department_id:
        raise Invalid(fields={"department": [_("请选择与当前不同的部门。")]})
    old = ticket.department
    _transition(
        ticket,
        "redispatch",
        actor=by,
        at=now,
        comment=reason,
        data={"from": old.name if old else "", "department": department.name},
        department=department,
        by=by,
        now=now,
    )
    clocks.clock_void(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now)
    clocks.clock_start(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now, department=department)
    return ticket


@transaction.atomic
def ticket_claim(
    *, ticket: Ticket, by: User, handler: User | None = None, now: datetime | None = None
) -> Ticket:
    """签收/报到: the department takes the order; optionally names its handler."""
    now = _now(now)
    role = _require_transition(by, "claim", ticket)
    if handler is None and role == Role.HANDLER:
        handler = by
    if handler is not None and handler.pk != by.pk:
        _require(by, "assign", ticket)  # naming someone else is assigning: the lead's right
    if handler is not None:
        _department_member(handler, ticket.department, "handler")
    _transition(
        ticket,
        "claim",
        actor=by,
        at=now,
        data={"handler": handler.username} if handler else {},
        by=by,
        now=now,
        handler=handler,
    )
    clocks.clock_stop(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now)
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, by: User, handler: User | None, now: datetime | None = None):
    """指派: a lead names (or changes) the handler of an order in their department."""
    now = _now(now)
    role = _require(by, "assign", ticket)
    if ticket.state not in (State.DISPATCHED, State.ACCEPTED, State.SUSPENDED):
        raise InvalidState()
    if handler is None:
        raise Invalid(fields={"handler": [_("请选择处理人。")]})
    _department_member(handler, ticket.department, "handler")
    before = _snapshot(ticket)
    ticket.handler = handler
    _save(ticket, before)
    _audit(
        ticket,
        transition="assign",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        data={"handler": handler.username},
    )
    return ticket


@transaction.atomic
def ticket_request_return(
    *, ticket: Ticket, by: User, reason: str, now: datetime | None = None
) -> Ticket:
    """退单: the department says the order is not theirs; a dispatcher rules on it."""
    now = _now(now)
    _require_transition(by, "request_return", ticket)
    reason = _text(reason, "reason")
    _transition(ticket, "request_return", actor=by, at=now, comment=reason, reason=reason)
    clocks.clock_stop(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now)
    return ticket


@transaction.atomic
def ticket_rule_return(
    *,
    ticket: Ticket,
    by: User,
    uphold: bool,
    department: Department | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> Ticket:
    """裁定退单: uphold (send to a new department) or reject (back to the same department,
    counted against it). Either way the order is dispatched and its sign-for clock restarts."""
    now = _now(now)
    # State first: out of `return_requested` the order may have no department to fall back on.
    _require_transition(by, "rule_return", ticket)
    if uphold:
        department = _active_department(department)
        if department.pk == ticket.department_id:
            raise Invalid(fields={"department": [_("退单成立时请选择新的责任部门。")]})
        ruling = ReturnRuling.UPHELD
    else:
        department = ticket.department
        ruling = ReturnRuling.REJECTED
        comment = _text(comment, "comment")
    _transition(
        ticket,
        "rule_return",
        actor=by,
        at=now,
        comment=comment,
        data={"ruling": ruling, "department": department.name},
        ruling=ruling,
        department=department,
        by=by,
        now=now,
    )
    clocks.clock_start(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now, department=department)
    return ticket


@transaction.atomic
def ticket_request_cohandling(
    *,
    ticket: Ticket,
    by: User,
    departments: Iterable[Department],
    note: str = "",
    now: datetime | None = None,
) -> list[CoHandling]:
    """协办: the lead asks other departments to support."""
    now = _now(now)
    role = _require(by, "request_cohandling", ticket)
    if ticket.state not in (State.DISPATCHED, State.ACCEPTED, State.SUSPENDED):
        raise InvalidState()
    departments = list(departments)
    if not departments:
        raise Invalid(fields={"departments": [_("请选择协办部门。")]})
    rows = _add_cohandling(ticket, by=by, departments=departments, note=note, now=now)
    _audit(
        ticket,
        transition="cohandle",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=note,
        data={"departments": [d.name for d in departments]},
    )
    return rows


def _add_cohandling(ticket, *, by, departments, note, now) -> list[CoHandling]:
    rows = []
    for dept in departments:
        if dept.pk == ticket.department_id:
            continue
        row, _created = CoHandling.objects.get_or_create(
            ticket=ticket,
            department=dept,
            defaults={"requested_by": by, "note": note, "created_at": now},
        )
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- handle stage


@transaction.atomic
def ticket_request_suspension(
    *,
    ticket: Ticket,
    by: User,
    reason: str,
    until: datetime | None,
    note: str = "",
    now: datetime | None = None,
) -> SuspensionRequest:
    """A handler asks to suspend for a customer-side reason until a given time."""
    now = _now(now)
    _require(by, "request_suspension", ticket)
    if ticket.state != State.ACCEPTED:
        raise InvalidState()
    _validate_suspension(reason, until, now)
    if ticket.suspensions.filter(status=RequestStatus.PENDING).exists():
        raise Invalid(fields={"__all__": [_("已有待审批的挂起申请。")]})
    return SuspensionRequest.objects.create(
        ticket=ticket,
        requested_by=by,
        requested_at=now,
        reason=reason,
        until=until,
        note=(note or "").strip()[:500],
    )


def _validate_suspension(reason, until, now) -> None:
    errors = {}
    if reason not in SuspensionReason.values:
        errors["reason"] = [_("请选择客户方原因。")]
    if until is None:
        errors["until"] = [_("请填写挂起截止时间。")]
    elif until <= now:
        errors["until"] = [_("挂起截止时间必须晚于现在。")]
    elif until > now + timedelta(days=30):
        errors["until"] = [_("挂起最长 30 天。")]
    if errors:
        raise Invalid(fields=errors)


@transaction.atomic
def ticket_suspend(
    *,
    ticket: Ticket,
    by: User,
    reason: str,
    until: datetime | None,
    note: str = "",
    request: SuspensionRequest | None = None,
    now: datetime | None = None,
) -> Ticket:
    """挂起: approved by a lead or supervisor; pauses the promise clock until resumed."""
    now = _now(now)
    _require_transition(by, "suspend", ticket)
    _validate_suspension(reason, until, now)
    label = _stored(SuspensionReason(reason).label)
    _transition(
        ticket,
        "suspend",
        actor=by,
        at=now,
        comment=f"{label} {note}".strip(),
        data={"reason": reason, "until": until.isoformat()},
        until=until,
    )
    clocks.clock_pause(ticket=ticket, kind=ClockKind.PROMISE, now=now)
    if request is None:
        request = SuspensionRequest(
            ticket=ticket,
            requested_by=by,
            requested_at=now,
            reason=reason,
            until=until,
            note=(note or "")[:500],
        )
    request.status = RequestStatus.APPROVED
    request.decided_by = by
    request.decided_at = now
    request.save()
    return ticket


def _pending(model, request_id, ticket=None):
    obj = model.objects.select_related("ticket").filter(pk=getattr(request_id, "pk", request_id))
    obj = obj.first()
    if obj is None or (ticket is not None and obj.ticket_id != ticket.pk):
        raise Invalid(fields={"request": [_("申请不存在。")]})
    if obj.status != RequestStatus.PENDING:
        raise InvalidState(_("该申请已处理。"))
    return obj


def ticket_approve_suspension(
    *, request: SuspensionRequest, by: User, now: datetime | None = None
) -> Ticket:
    request = _pending(SuspensionRequest, request)
    return ticket_suspend(
        ticket=request.ticket,
        by=by,
        reason=request.reason,
        until=request.until,
        note=request.note,
        request=request,
        now=now,
    )


@transaction.atomic
def ticket_refuse_suspension(
    *, request: SuspensionRequest, by: User, note: str = "", now: datetime | None = None
) -> SuspensionRequest:
    now = _now(now)
    request = _pending(SuspensionRequest, request)
    _require(by, "suspend", request.ticket)
    request.status = RequestStatus.REFUSED
    request.decided_by = by
    request.decided_at = now
    request.decision_note = (note or "")[:500]
    request.save()
    return request


@transaction.atomic
def ticket_resume(*, ticket: Ticket, by: User | None, now: datetime | None = None) -> Ticket:
    """解挂: the promise clock runs again; its due time moves by the paused span."""
    now = _now(now)
    _transition(
        ticket,
        "resume",
        actor=by,
        at=now,
        comment="" if by else _stored(gettext_lazy("到达挂起截止时间，系统自动解挂")),
    )
    clocks.clock_resume(ticket=ticket, kind=ClockKind.PROMISE, now=now)
    ticket.save(update_fields=["promise_clock", "promise_due_at"])
    return ticket


@transaction.atomic
def ticket_request_extension(
    *, ticket: Ticket, by: User, hours: int, reason: str, now: datetime | None = None
) -> ExtensionRequest:
    """延期申请: before the promise is due, with a reason."""
    now = _now(now)
    _require(by, "request_extension", ticket)
    if ticket.state not in (State.ACCEPTED, State.SUSPENDED):
        raise InvalidState()
    reason = _text(reason, "reason")
    try:
        hours = int(hours)
    except (TypeError, ValueError):
        hours = 0
    if not 1 <= hours <= 24 * 30:
        raise Invalid(fields={"hours": [_("延期时长须在 1 到 720 小时之间。")]})
    clock = clocks.running(ticket, ClockKind.PROMISE).first()  # fresh, not a cached relation
    # Remaining time, not the stored due: a suspended order's due only moves at resume.
    if clock is None or clock.remaining_seconds(now) <= 0:
        raise InvalidState(_("已超过承诺时限，不能再申请延期。"))
    if ticket.extensions.filter(status=RequestStatus.PENDING).exists():
        raise Invalid(fields={"__all__": [_("已有待审批的延期申请。")]})
    return ExtensionRequest.objects.create(
        ticket=ticket, requested_by=by, requested_at=now, hours=hours, reason=reason
    )


@transaction.atomic
def ticket_decide_extension(
    *,
    request: ExtensionRequest,
    by: User,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> ExtensionRequest:
    """Approve (moves the effective due time; the original stays) or refuse an extension."""
    now = _now(now)
    request = _pending(ExtensionRequest, request)
    ticket = request.ticket
    role = _require(by, "approve_extension", ticket)
    if role == Role.LEAD and not request.requested_by.department.is_within(by.department):
        raise NotAllowed(_("只能审批本部门人员的延期申请。"))
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    request.decided_by = by
    request.decided_at = now
    request.decision_note = (note or "")[:500]
    request.save()
    if approve:
        clock = clocks.running(ticket, ClockKind.PROMISE).first()
        if clock is None:
            raise InvalidState(_("承诺时限已停止，无法延期。"))
        old_due = clock.due_at
        clocks.clock_extend(clock=clock, seconds=request.hours * 3600)
        before = _snapshot(ticket)
        ticket.extension_count += 1
        ticket.promise_due_at = clock.due_at
        _save(ticket, before)
        _audit(
            ticket,
            transition="extend",
            source=ticket.state,
            by=by,
            role=role,
            now=now,
            comment=request.reason,
            data={
                "hours": request.hours,
                "from": old_due.isoformat(),
                "to": clock.due_at.isoformat(),
            },
        )
    return request


@transaction.atomic
def ticket_reply(
    *,
    ticket: Ticket,
    by: User,
    result: str,
    cause: str,
    resolved: bool | None,
    now: datetime | None = None,
) -> Ticket:
    """回单: the handler reports the result; the promise stops and the visit clock starts."""
    from .models import CauseCategory

    now = _now(now)
    _require_transition(by, "reply", ticket)
    errors = {}
    result = (result or "").strip()
    if not result:
        errors["result"] = [_("请填写处理结果。")]
    if cause not in CauseCategory.values:
        errors["cause"] = [_("请选择原因分类。")]
    if resolved is None:
        errors["resolved"] = [_("请选择是否已解决。")]
    if errors:
        raise Invalid(fields=errors)
    _transition(
        ticket,
        "reply",
        actor=by,
        at=now,
        comment=result,
        result=result,
        cause=cause,
        resolved=resolved,
        by=by,
        now=now,
    )
    clocks.clock_stop(ticket=ticket, kind=ClockKind.PROMISE, now=now)
    clocks.clock_start(ticket=ticket, kind=ClockKind.VISIT, now=now)
    ticket.save(update_fields=["promise_clock", "promise_due_at"])
    return ticket


@transaction.atomic
def ticket_reject_reply(
    *, ticket: Ticket, by: User, reason: str, now: datetime | None = None
) -> Ticket:
    """驳回回单: the reply does not stand; the promise resumes and the wait counts as paused."""
    now = _now(now)
    _require_transition(by, "reject_reply", ticket)
    reason = _text(reason, "reason")
    _transition(ticket, "reject_reply", actor=by, at=now, comment=reason)
    # A redo proposal judged the rejected reply; the next reply gets its own visit.
    ticket.redo_proposals.filter(status=RequestStatus.PENDING).update(
        status=RequestStatus.REFUSED, decided_by=by, decided_at=now
    )
    clocks.clock_void(ticket=ticket, kind=ClockKind.VISIT, now=now)
    clocks.clock_reopen(ticket=ticket, kind=ClockKind.PROMISE, now=now, count_gap_as_paused=True)
    ticket.save(update_fields=["promise_clock", "promise_due_at"])
    return ticket


# --------------------------------------------------------------------------- close stage


def _validate_visit(outcome, resolved, satisfaction) -> None:
    errors = {}
    if outcome not in VisitOutcome.values:
        errors["outcome"] = [_("请选择回访结果。")]
    elif outcome == VisitOutcome.SUCCESS:
        if resolved is None:
            errors["resolved"] = [_("请选择客户是否确认已解决。")]
        if satisfaction not in Satisfaction.values:
            errors["satisfaction"] = [_("请选择满意度。")]
    if errors:
        raise Invalid(fields=errors)


@transaction.atomic
def ticket_close(
    *,
    ticket: Ticket,
    by: User | None,
    outcome: str,
    resolved: bool | None = None,
    satisfaction: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Ticket:
    """回访办结: record the visit and close; the promise result becomes final."""
    now = _now(now)
    _require_transition(by, "close", ticket)
    _validate_visit(outcome, resolved, satisfaction)
    if outcome != VisitOutcome.SUCCESS:
        resolved, satisfaction = None, ""
    _transition(
        ticket,
        "close",
        actor=by,
        at=now,
        comment=note,
        data={"outcome": outcome, "resolved": resolved, "satisfaction": satisfaction},
        outcome=outcome,
        resolved=resolved,
        satisfaction=satisfaction,
        note=(note or "")[:500],
        by=by,
        now=now,
    )
    clocks.clock_stop(ticket=ticket, kind=ClockKind.VISIT, now=now)
    ticket.redo_proposals.filter(status=RequestStatus.PENDING).update(
        status=RequestStatus.REFUSED, decided_by=by, decided_at=now
    )
    return ticket


def ticket_visit(
    *,
    ticket: Ticket,
    by: User,
    outcome: str,
    resolved: bool | None = None,
    satisfaction: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Ticket:
    """The customer's verdict (dispatcher's return visit, or the reporter on the spot):
    resolved and (basically) satisfied closes the order; otherwise a redo is proposed for a
    supervisor to confirm. Unreachable after three attempts closes as an unsuccessful visit."""
    _check_state(ticket, "close")
    _validate_visit(outcome, resolved, satisfaction)
    if outcome == VisitOutcome.SUCCESS and (
        resolved is False or satisfaction == Satisfaction.UNSATISFIED
    ):
        ticket_propose_redo(
            ticket=ticket,
            by=by,
            reason=note or _stored(gettext_lazy("客户不满意或问题未解决")),
            resolved=resolved,
            satisfaction=satisfaction,
            now=now,
        )
        return ticket
    return ticket_close(
        ticket=ticket,
        by=by,
        outcome=outcome,
        resolved=resolved,
        satisfaction=satisfaction,
        note=note,
        now=now,
    )


@transaction.atomic
def ticket_propose_redo(
    *,
    ticket: Ticket,
    by: User,
    reason: str,
    resolved: bool | None = None,
    satisfaction: str = "",
    now: datetime | None = None,
) -> RedoProposal:
    now = _now(now)
    role = _require(by, "propose_redo", ticket)
    if ticket.state != State.REPLIED:
        raise InvalidState()
    reason = _text(reason, "reason")
    if ticket.redo_proposals.filter(status=RequestStatus.PENDING).exists():
        raise Invalid(fields={"__all__": [_("已有待确认的重办申请。")]})
    proposal = RedoProposal.objects.create(
        ticket=ticket,
        proposed_by=by,
        proposed_at=now,
        reason=reason,
        visit_resolved=resolved,
        visit_satisfaction=satisfaction or "",
    )
    _audit(
        ticket,
        transition="propose_redo",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=reason,
        data={"resolved": resolved, "satisfaction": satisfaction},
    )
    return proposal


@transaction.atomic
def ticket_redo(*, ticket: Ticket, by: User, reason: str = "", now: datetime | None = None):
    """重办 (supervisor confirms): back to the department; the promise runs on from its start."""
    now = _now(now)
    _require(by, "redo", ticket)
    proposal = ticket.redo_proposals.filter(status=RequestStatus.PENDING).first()
    if proposal is None and ticket.state == State.REPLIED:
        raise InvalidState(_("没有待确认的重办申请。"))
    reason = (reason or "").strip() or (proposal.reason if proposal else "")
    _transition(ticket, "redo", actor=by, at=now, comment=reason)
    if proposal is not None:
        proposal.status = RequestStatus.APPROVED
        proposal.decided_by = by
        proposal.decided_at = now
        proposal.save()
    clocks.clock_void(ticket=ticket, kind=ClockKind.VISIT, now=now)
    clocks.clock_reopen(ticket=ticket, kind=ClockKind.PROMISE, now=now, count_gap_as_paused=False)
    ticket.save(update_fields=["promise_clock", "promise_due_at"])
    return ticket


def ticket_decline_redo(*, ticket: Ticket, by: User, note: str = "", now=None) -> Ticket:
    """The supervisor declines the redo: the order closes with the unsatisfied visit."""
    now = _now(now)
    role = _require(by, "redo", ticket)
    proposal = ticket.redo_proposals.filter(status=RequestStatus.PENDING).first()
    if proposal is None:
        raise InvalidState(_("没有待确认的重办申请。"))
    with transaction.atomic():
        RedoProposal.objects.filter(pk=proposal.pk).update(
            status=RequestStatus.REFUSED, decided_by=by, decided_at=now
        )
        # The supervisor's decision is on record; the close is the visitor's.
        _audit(
            ticket,
            transition="decline_redo",
            source=ticket.state,
            by=by,
            role=role,
            now=now,
            comment=note or proposal.reason,
        )
        return ticket_close(
            ticket=ticket,
            by=proposal.proposed_by,
            outcome=VisitOutcome.SUCCESS,
            resolved=proposal.visit_resolved if proposal.visit_resolved is not None else False,
            satisfaction=proposal.visit_satisfaction or Satisfaction.UNSATISFIED,
            note=note or proposal.reason,
            now=now,
        )


@transaction.atomic
def ticket_cancel(
    *,
    ticket: Ticket,
    by: User,
    reason: str,
    duplicate_of: Ticket | None = None,
    now: datetime | None = None,
) -> Ticket:
    """作废: only before the department has taken it; all clocks are voided."""
    now = _now(now)
    _require_transition(by, "cancel", ticket)
    reason = _text(reason, "reason")
    if duplicate_of is not None and duplicate_of.pk == ticket.pk:
        raise Invalid(fields={"duplicate_of": [_("不能标记为与自身重复。")]})
    _transition(
        ticket,
        "cancel",
        actor=by,
        at=now,
        comment=reason,
        data={"duplicate_of": duplicate_of.number} if duplicate_of else {},
        reason=reason,
        duplicate_of=duplicate_of,
        now=now,
    )
    clocks.clock_void(ticket=ticket, now=now)
    return ticket


# --------------------------------------------------------------------------- records


@transaction.atomic
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


@transaction.atomic
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


@transaction.atomic
def ticket_chase(*, ticket: Ticket, by: User, note: str = "", now: datetime | None = None):
    """催办: at most once per 10 minutes an order, and only while it is open."""
    now = _now(now)
    _require(by, "chase", ticket)
    if not ticket.is_open or ticket.state == State.REPLIED:
        raise InvalidState(_("工单已回复或已办结，无需催办。"))
    # Lock the order row so two chases at once cannot both pass the interval check.
    Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk").first()
    last = ticket.chases.order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and now - last < CHASE_INTERVAL:
        wait = int((CHASE_INTERVAL - (now - last)).total_seconds() // 60) + 1
        raise RateLimited(_("该工单刚被催办过，请 %(m)d 分钟后再催。") % {"m": wait})
    chase = Chase.objects.create(
        ticket=ticket, by=by, note=(note or "").strip()[:500], created_at=now
    )
    Ticket.objects.filter(pk=ticket.pk).update(chase_count=F("chase_count") + 1)
    ticket.chase_count += 1
    notify_chase(ticket=ticket, chase=chase, by=by, now=now)
    return chase


@transaction.atomic
def ticket_supervise(*, ticket: Ticket, by: User | None, note: str, now: datetime | None = None):
    """督办: a supervisor's note on an open order (the SLA engine writes these too)."""
    now = _now(now)
    if by is not None:
        _require(by, "supervise", ticket)
    if not ticket.is_open:
        raise InvalidState()
    note = _text(note, "note")
    row = Supervision.objects.create(ticket=ticket, by=by, note=note, created_at=now)
    Ticket.objects.filter(pk=ticket.pk).update(supervise_count=F("supervise_count") + 1)
    ticket.supervise_count += 1
    return row


@transaction.atomic
def tickets_supervise_by_system(*, tickets: Iterable[Ticket], note: str, now: datetime) -> int:
    """督办 by the SLA engine when clocks breach: ticket_supervise(by=None) for many open
    orders at once (one insert and one update, not two queries per order)."""
    note = _text(note, "note")
    targets = [t for t in tickets if t.is_open]
    Supervision.objects.bulk_create(
        [Supervision(ticket=t, by=None, note=note, created_at=now) for t in targets]
    )
    Ticket.objects.filter(pk__in=[t.pk for t in targets]).update(
        supervise_count=F("supervise_count") + 1
    )
    return len(targets)
