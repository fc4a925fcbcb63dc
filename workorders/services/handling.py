"""Handle stage: suspension, resume, extensions, reply, rejected replies."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import Role
from sla import services as clocks
from sla.models import ClockKind

from ..errors import Invalid, InvalidState, NotAllowed
from ..models import (
    ExtensionRequest,
    RequestStatus,
    State,
    SuspensionReason,
    SuspensionRequest,
    Ticket,
)
from .common import (
    _audit,
    _check_version,
    _held,
    _now,
    _require,
    _require_transition,
    _save,
    _save_promise,
    _snapshot,
    _stored,
    _text,
    _transition,
    ticket_write,
)

# --------------------------------------------------------------------------- handle stage

PUBLIC_REPLY_MAX = 1000  # what the customer reads on a phone


@ticket_write
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


@ticket_write
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


def _pending(model, request, *, expected_version: int | None = None):
    """The request, if it is still pending, with its order: both rows locked for the rest of
    the transaction, the order first (as every writer of an order takes them), so of two people
    deciding the same request at once the second waits, then finds it decided."""
    pk = getattr(request, "pk", request)
    ticket = (
        Ticket.objects.select_for_update()
        .filter(pk=Subquery(model.objects.filter(pk=pk).values("ticket_id")[:1]))
        .first()
    )
    obj = None
    if ticket is not None:
        _check_version(ticket, expected_version)
        obj = model.objects.select_for_update().filter(pk=pk, ticket=ticket).first()
    if obj is None:
        raise Invalid(fields={"request": [_("申请不存在。")]})
    if obj.status != RequestStatus.PENDING:
        raise InvalidState(_("该申请已处理。"))
    obj.ticket = ticket
    return obj


@transaction.atomic
def ticket_approve_suspension(
    *,
    request: SuspensionRequest,
    by: User,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """Approve a pending suspension request: the order is suspended (see ticket_suspend)."""
    request = _pending(SuspensionRequest, request, expected_version=expected_version)
    with _held(request.ticket):
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
    *,
    request: SuspensionRequest,
    by: User,
    note: str = "",
    now: datetime | None = None,
    expected_version: int | None = None,
) -> SuspensionRequest:
    """Refuse a pending suspension request; the order is not touched."""
    now = _now(now)
    request = _pending(SuspensionRequest, request, expected_version=expected_version)
    _require(by, "suspend", request.ticket)
    _decide(request, RequestStatus.REFUSED, by=by, now=now, note=note)
    return request


def _decide(request, status: str, *, by: User, now: datetime, note: str = "") -> None:
    # A refusal says why: the handler who asked has to know what to do instead (the phone, the
    # back office and the API all come through here).
    if status == RequestStatus.REFUSED and not (note or "").strip():
        raise Invalid(fields={"note": [_("驳回时请填写理由。")]})
    request.status = status
    request.decided_by = by
    request.decided_at = now
    request.decision_note = (note or "")[:500]
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])


@ticket_write
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
    _save_promise(ticket)
    return ticket


@ticket_write
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
    expected_version: int | None = None,
) -> ExtensionRequest:
    """Approve (moves the effective due time; the original stays) or refuse an extension."""
    now = _now(now)
    request = _pending(ExtensionRequest, request, expected_version=expected_version)
    ticket = request.ticket
    role = _require(by, "approve_extension", ticket)
    if role == Role.LEAD and not request.requested_by.department.is_within(by.department):
        raise NotAllowed(_("只能审批本部门人员的延期申请。"))
    status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    _decide(request, status, by=by, now=now, note=note)
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


@ticket_write
def ticket_reply(
    *,
    ticket: Ticket,
    by: User,
    result: str,
    cause: str,
    resolved: bool | None,
    public_reply: str = "",
    now: datetime | None = None,
) -> Ticket:
    """回单: the handler reports the result (and, optionally, what to tell the customer: the
    status page shows `public_reply`, never the internal result); the promise stops and the
    visit clock starts."""
    from ..models import CauseCategory

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
    public_reply = (public_reply or "").strip()
    if len(public_reply) > PUBLIC_REPLY_MAX:
        errors["public_reply"] = [_("最多 %(n)d 个字符。") % {"n": PUBLIC_REPLY_MAX}]
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
        public_reply=public_reply,
        by=by,
        now=now,
    )
    clocks.clock_stop(ticket=ticket, kind=ClockKind.PROMISE, now=now)
    clocks.clock_start(ticket=ticket, kind=ClockKind.VISIT, now=now)
    _save_promise(ticket)
    return ticket


@ticket_write
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
    _save_promise(ticket)
    return ticket
