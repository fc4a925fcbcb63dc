"""Close stage: the visit, close, redo, cancel."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import Role
from sla import services as clocks
from sla.models import ClockKind

from .. import events
from ..errors import Invalid, InvalidState
from ..models import (
    RedoProposal,
    RequestStatus,
    Satisfaction,
    State,
    Ticket,
    VisitChannel,
    VisitOutcome,
)
from ..permissions import CUSTOMER
from .common import (
    _audit,
    _check_state,
    _now,
    _require,
    _require_transition,
    _save_promise,
    _stored,
    _text,
    _transition,
    ticket_write,
)
from .regulator import regulator_close_check

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


def _is_customer(by: User | None, channel: str) -> bool:
    """No user and the survey channel: the customer's own answer on the status page."""
    return by is None and channel == VisitChannel.SMS_SURVEY


def _visit_channel(role: str, channel: str) -> str:
    """Where the verdict was taken: the customer's survey; else as the caller says (phone or
    on the spot), by default on the spot for the reporting frontline worker and by phone for
    a dispatcher. The system's auto-close took no verdict."""
    if role == CUSTOMER:
        return VisitChannel.SMS_SURVEY
    if role == "system":
        return ""
    if channel == VisitChannel.SMS_SURVEY or (channel and channel not in VisitChannel.values):
        raise Invalid(fields={"channel": [_("回访渠道无效。")]})
    if channel:
        return channel
    return VisitChannel.ON_THE_SPOT if role == Role.FRONTLINE else VisitChannel.PHONE


@ticket_write
def ticket_close(
    *,
    ticket: Ticket,
    by: User | None,
    outcome: str,
    resolved: bool | None = None,
    satisfaction: str = "",
    note: str = "",
    channel: str = "",
    now: datetime | None = None,
) -> Ticket:
    """回访办结: record the visit and close; the promise result becomes final."""
    now = _now(now)
    customer = _is_customer(by, channel)
    role = _require_transition(by, "close", ticket, customer=customer)
    regulator_close_check(ticket)
    channel = _visit_channel(role, channel)
    _validate_visit(outcome, resolved, satisfaction)
    if outcome != VisitOutcome.SUCCESS:
        resolved, satisfaction = None, ""
    _transition(
        ticket,
        "close",
        actor=by,
        at=now,
        comment=note,
        data={
            "outcome": outcome,
            "resolved": resolved,
            "satisfaction": satisfaction,
            "channel": channel,
        },
        customer=customer,
        channel=channel,
        outcome=outcome,
        resolved=resolved,
        satisfaction=satisfaction,
        note=(note or "")[:500],
        by=by,
        now=now,
    )
    clocks.clock_stop(ticket=ticket, kind=ClockKind.VISIT, now=now)
    clocks.clock_stop(ticket=ticket, kind=ClockKind.REGULATOR, now=now)
    ticket.redo_proposals.filter(status=RequestStatus.PENDING).update(
        status=RequestStatus.REFUSED, decided_by=by, decided_at=now
    )
    return ticket


@ticket_write
def ticket_visit(
    *,
    ticket: Ticket,
    by: User | None,
    outcome: str,
    resolved: bool | None = None,
    satisfaction: str = "",
    note: str = "",
    channel: str = "",
    now: datetime | None = None,
) -> Ticket:
    """The customer's verdict (dispatcher's return visit, the reporter on the spot, or the
    customer's own survey answer with `by=None, channel="sms_survey"`): resolved and
    (basically) satisfied closes the order; otherwise a redo is proposed for a supervisor to
    confirm. Unreachable after three attempts closes as an unsuccessful visit."""
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
            channel=channel,
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
        channel=channel,
        now=now,
    )


@ticket_write
def ticket_propose_redo(
    *,
    ticket: Ticket,
    by: User | None,
    reason: str,
    resolved: bool | None = None,
    satisfaction: str = "",
    channel: str = "",
    now: datetime | None = None,
) -> RedoProposal:
    now = _now(now)
    role = _require(by, "propose_redo", ticket, customer=_is_customer(by, channel))
    channel = _visit_channel(role, channel)
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
        channel=channel,
    )
    _audit(
        ticket,
        transition="propose_redo",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=reason,
        data={"resolved": resolved, "satisfaction": satisfaction, "channel": channel},
    )
    events.publish(events.RECORDED, ticket=ticket, record="propose_redo", now=now)
    return proposal


@ticket_write
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
    _save_promise(ticket)
    return ticket


@ticket_write
def ticket_decline_redo(*, ticket: Ticket, by: User, note: str = "", now=None) -> Ticket:
    """The supervisor declines the redo: the order closes with the unsatisfied visit."""
    now = _now(now)
    role = _require(by, "redo", ticket)
    proposal = ticket.redo_proposals.filter(status=RequestStatus.PENDING).first()
    if proposal is None:
        raise InvalidState(_("没有待确认的重办申请。"))
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
        channel=proposal.channel,
        now=now,
    )


@ticket_write
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
