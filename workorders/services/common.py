"""Shared steps of every service: rights, state, the guarded save, the audit row."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed

from accounts.models import Department, User
from accounts.roles import Role
from workorders.permissions import TRANSITIONS, acting_role

from .. import events
from ..errors import Conflict, Invalid, InvalidState, NotAllowed, Stale
from ..models import (
    AuditEntry,
    Ticket,
)

# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _require(by, action: str, ticket: Ticket | None = None, *, customer: bool = False) -> str:
    role = acting_role(by, action, ticket, customer=customer)
    if role is None:
        # A role that may take this transition, on an order in a state it does not start from,
        # hears about the state, not about rights: the scope rules read fields that the wrong
        # state lacks (a reported order has no department, a dispatched one no handler yet).
        if ticket is not None and action in TRANSITIONS and acting_role(by, action) is not None:
            _check_state(ticket, action)
        raise NotAllowed()
    return role


def _require_transition(by, name: str, ticket: Ticket, *, customer: bool = False) -> str:
    """Right, then state — before any input is validated: on an order that has moved on, the
    user learns that, not that a field they would fill in vain is missing."""
    role = _require(by, name, ticket, customer=customer)
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
    """Save only what changed and move the version on: `UPDATE … WHERE id = … AND state = …
    AND version = …` (Ticket._do_update), so a write from a stale read changes nothing and is a
    Conflict, never a silent overwrite."""
    changed = [k for k, v in _snapshot(ticket).items() if before.get(k) != v]
    ticket.version += 1
    fields = {f.attname: f.name for f in ticket._meta.concrete_fields}
    update = sorted({fields[a] for a in changed} | {"version", "updated_at"})
    try:
        ticket.save(update_fields=update)
    except ConcurrentTransition:
        raise Conflict() from None


def _save_promise(ticket: Ticket) -> None:
    """Store the promise clock's link and due time on the order (kept for sorting lists), in
    the same guarded way."""
    try:
        ticket.save(update_fields=["promise_clock", "promise_due_at"])
    except ConcurrentTransition:
        raise Conflict() from None


# --------------------------------------------------------------------------- row lock

_FIELDS = [f.attname for f in Ticket._meta.concrete_fields]


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    """The version the user saw (a form's hidden field, the API's If-Match) against the row."""
    if expected_version is not None and int(expected_version) != ticket.version:
        raise Stale()


def _lock(ticket: Ticket, *, expected_version: int | None = None) -> Ticket:
    """Take the order's row (`SELECT … FOR UPDATE`) for the rest of the transaction and bring
    `ticket` up to it, so what follows decides on the current row, not on the one the
    interface read minutes ago. A second writer waits here for the first to commit, then sees
    its result: the state check refuses a transition that no longer applies, and a caller
    that says which version it saw gets Stale if the order has moved on since.

    One query. On SQLite the lock is a no-op; the IMMEDIATE transactions serialise writers."""
    row = Ticket.objects.select_for_update().filter(pk=ticket.pk).values(*_FIELDS).get()
    for attname, value in row.items():
        if attname == "state":
            # The FSM field is protected against assignment; this is a reload, not a change.
            ticket.__dict__["state"] = value
        else:
            # Assigning a foreign key's id drops its cached object when the id changed.
            setattr(ticket, attname, value)
    ticket._update_initial_state()  # the FSM mixin's own guard compares with this row
    ticket._remember_version()
    _check_version(ticket, expected_version)
    return ticket


@contextmanager
def _held(ticket: Ticket) -> Iterator[Ticket]:
    """Mark `ticket` as locked and fresh while a service runs on it, so services it calls on
    the same instance do not read the row again. Only inside the transaction that locked it."""
    outer = getattr(ticket, "_row_held", False)
    ticket._row_held = True
    try:
        yield ticket
    except BaseException:
        ticket.__dict__.pop("_audited_at", None)
        raise
    finally:
        ticket._row_held = outer
    if not outer:
        _announce_audited(ticket)


R = TypeVar("R")


def ticket_write(fn: Callable[..., R]) -> Callable[..., R]:
    """A service that writes to one order: one transaction, the order's row locked and re-read
    first (`_lock`), and an optional `expected_version=` (the version the user saw) checked
    against it. The one place where every interface — API, admin, phone pages, bulk actions,
    tasks — gets the same protection against races and lost updates."""

    @functools.wraps(fn)
    def run(*args, ticket: Ticket, expected_version: int | None = None, **kwargs):
        held = getattr(ticket, "_row_held", False)
        # Called from a service that holds the row: its transaction is this one, and its
        # failure is this one's (no savepoint of its own).
        with transaction.atomic(savepoint=not held):
            if held:
                _check_version(ticket, expected_version)
            else:
                _lock(ticket, expected_version=expected_version)
            with _held(ticket):
                return fn(*args, ticket=ticket, **kwargs)

    return run


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
    entry = AuditEntry.objects.create(
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
    # Listeners that derive figures from the whole order (the reports' KPI roll-up) hear of
    # it once the service is done with the order (`_held`), or now when no service holds it.
    ticket._audited_at = now
    if not getattr(ticket, "_row_held", False):
        _announce_audited(ticket)
    return entry


def _announce_audited(ticket: Ticket) -> None:
    now = ticket.__dict__.pop("_audited_at", None)
    if now is not None:
        events.publish(events.AUDITED, ticket=ticket, now=now)


def _transition(
    ticket: Ticket,
    name: str,
    *,
    actor: User | None,
    at: datetime,
    comment: str = "",
    data: dict | None = None,
    customer: bool = False,
    **kwargs,
) -> AuditEntry:
    """Right, then state, then the transition, the guarded save and the audit row."""
    role = _require(actor, name, ticket, customer=customer)
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
    events.publish(
        events.TRANSITION, ticket=ticket, transition=name, actor=actor, audit_id=entry.pk, now=at
    )
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
