"""Dispatch stage: dispatch, redispatch, claim, assign, returns, co-handling."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils.translation import gettext as _

from accounts.models import Department, User
from accounts.roles import Role
from sla import services as clocks
from sla.models import ClockKind

from .. import events
from ..errors import Invalid, InvalidState
from ..models import (
    Category,
    CoHandling,
    ReturnRuling,
    State,
    Ticket,
)
from .common import (
    _active_department,
    _audit,
    _department_member,
    _now,
    _require,
    _require_transition,
    _save,
    _save_promise,
    _snapshot,
    _text,
    _transition,
    ticket_write,
)
from .workload import _auto_assign

# --------------------------------------------------------------------------- dispatch stage


def routing_department(category: Category | None) -> Department | None:
    """The category's routing rule: its default department, if it names an active one. The
    report's auto-dispatch sends orders there; the dispatch forms suggest it."""
    if category is None or not category.default_department_id:
        return None
    department = category.default_department
    return department if department.is_active else None


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
    clocks.first_response_stop(ticket=ticket, now=now)
    clocks.clock_start(ticket=ticket, kind=ClockKind.SIGN_FOR, now=now, department=department)
    _add_cohandling(ticket, by=by, departments=co_departments, note="", now=now)
    _save_promise(ticket)
    _auto_assign(ticket, now=now)


@ticket_write
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


@ticket_write
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
    _auto_assign(ticket, now=now)
    return ticket


@ticket_write
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
    _auto_assign(ticket, now=now)  # claimed without a handler: the department's rule may name one
    return ticket


@ticket_write
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
    events.publish(events.RECORDED, ticket=ticket, record="assign", by=by, now=now)
    return ticket


@ticket_write
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


@ticket_write
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
    _auto_assign(ticket, now=now)
    return ticket


@ticket_write
def ticket_request_cohandling(
    *,
    ticket: Ticket,
    by: User,
    departments: Iterable[Department],
    note: str = "",
    now: datetime | None = None,
) -> list[CoHandling]:
    """协办: the lead, or the handler working the order, asks other departments to support."""
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


@ticket_write
def ticket_correct_category(
    *,
    ticket: Ticket,
    by: User,
    category: Category | None,
    reason: str,
    now: datetime | None = None,
) -> Ticket:
    """改分类: a dispatcher (any order not cancelled) or the lead of the order's department
    (open orders) corrects a wrong category, with a reason. Reports count the order under the
    new category; running clocks are re-targeted under the rules for it, since the SLA rule
    matrix names categories. Urgency stays as it is (changing it is its own step, with its
    own reason)."""
    now = _now(now)
    role = _require(by, "correct_category", ticket)
    if ticket.state == State.CANCELLED:
        raise InvalidState(
            _("工单当前状态为“%(state)s”，不能执行此操作。") % {"state": ticket.get_state_display()}
        )
    if category is None:
        raise Invalid(fields={"category": [_("请选择问题分类。")]})
    if not category.is_active:
        raise Invalid(fields={"category": [_("该分类已停用。")]})
    if category.pk == ticket.category_id:
        raise Invalid(fields={"category": [_("请选择与当前不同的分类。")]})
    reason = _text(reason, "reason")
    before = _snapshot(ticket)
    old = ticket.category
    ticket.category = category
    changes = clocks.clocks_retarget(ticket=ticket, now=now)
    _save(ticket, before)
    _audit(
        ticket,
        transition="correct_category",
        source=ticket.state,
        by=by,
        role=role,
        now=now,
        comment=reason,
        data={
            "from": old.code,
            "to": category.code,
            "from_name": str(old),
            "to_name": str(category),
            "due": {c.kind: [o.isoformat(), n.isoformat()] for c, o, n in changes},
        },
    )
    return ticket


correct_category = ticket_correct_category
