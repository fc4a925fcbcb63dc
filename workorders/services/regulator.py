"""监管申诉: the regulator track. Orders from the regulator channel, or marked 申诉 afterwards,
run the statutory clock (ClockKind.REGULATOR, its target and reminders from the SLA rule
matrix) and close only after a supervisor has signed off the reply."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from accounts.models import User
from sla import services as clocks

from .. import events
from ..errors import InvalidState
from ..models import State, Ticket
from .common import _audit, _now, _require, _save, _snapshot, _text, ticket_write


@ticket_write
def ticket_mark_regulator(
    *, ticket: Ticket, by: User, reason: str, now: datetime | None = None
) -> Ticket:
    """Mark an open order as a regulator complaint (申诉, e.g. the customer went to the
    regulator after filing it here) and start the statutory clock from now."""
    now = _now(now)
    role = _require(by, "mark_regulator", ticket)
    reason = _text(reason, "reason")
    if not ticket.is_open:
        raise InvalidState(_("工单已结束，不能再标记为监管申诉。"))
    if ticket.is_regulator:
        raise InvalidState(_("该工单已是监管申诉工单。"))
    before = _snapshot(ticket)
    ticket.is_regulator = True
    ticket.regulator_marked_at = now
    _save(ticket, before)
    clocks.regulator_start(ticket=ticket, now=now)
    _audit(
        ticket,
        transition="mark_regulator",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=reason,
    )
    events.publish(events.RECORDED, ticket=ticket, record="mark_regulator", now=now)
    return ticket


@ticket_write
def ticket_regulator_signoff(
    *, ticket: Ticket, by: User, note: str = "", now: datetime | None = None
) -> Ticket:
    """A supervisor signs off the reply of a regulator complaint: only then may it close."""
    now = _now(now)
    role = _require(by, "regulator_signoff", ticket)
    note = _text(note, "note", required=False)
    if not ticket.is_regulator:
        raise InvalidState(_("只有监管申诉工单需要督办签字。"))
    if ticket.state != State.REPLIED:
        raise InvalidState(_("监管申诉工单回复后才能签字。"))
    if ticket.regulator_signed_off_at is not None:
        raise InvalidState(_("该回复已签字。"))
    before = _snapshot(ticket)
    ticket.regulator_signed_off_at = now
    ticket.regulator_signed_off_by = by
    _save(ticket, before)
    _audit(
        ticket,
        transition="regulator_signoff",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=note,
    )
    return ticket


def regulator_close_check(ticket: Ticket) -> None:
    """A regulator complaint closes only after a supervisor's sign-off of its reply."""
    if ticket.awaits_regulator_signoff:
        raise InvalidState(_("监管申诉工单需督办签字后才能办结。"))
