"""自动指派: an order arriving in a department whose auto-assign rule is on goes to the skilled
handler with the least open work there."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q

from accounts.models import User
from accounts.roles import Role

from ..models import AutoAssignRule, HandlerSkill, Ticket
from ..selectors import WORKING_STATES
from .common import _audit, _save, _snapshot


def auto_assign_candidate(ticket: Ticket) -> User | None:
    """The active handler of the order's department (or a team below it) skilled in its
    category (or the category's group) with the fewest orders on their desk; ties go to the
    one who has waited longest for one (lowest id). None when nobody qualifies."""
    category = ticket.category
    cats = [category.pk] + ([category.parent_id] if category.parent_id else [])
    skilled = HandlerSkill.objects.filter(category_id__in=cats).values("user_id")
    return (
        User.objects.filter(
            is_active=True,
            groups__name=Role.HANDLER,
            department__path__startswith=ticket.department.path,
            pk__in=skilled,
        )
        .annotate(
            load=Count(
                "handled_tickets",
                filter=Q(handled_tickets__state__in=WORKING_STATES),
                distinct=True,
            )
        )
        .order_by("load", "pk")
        .first()
    )


def _auto_assign(ticket: Ticket, *, now: datetime) -> User | None:
    """If the order's department assigns automatically and the order has no handler, assign
    it (one audit row, actor the system). Concurrent arrivals in the same department take the
    department's rule row in turn (`SELECT … FOR UPDATE`), so each counts the others'
    assignments: two orders at once do not both land on the same "least busy" handler on a
    stale count."""
    if ticket.handler_id is not None or ticket.department_id is None:
        return None
    rule = (
        AutoAssignRule.objects.select_for_update()
        .filter(department_id=ticket.department_id, enabled=True)
        .first()
    )
    if rule is None:
        return None
    handler = auto_assign_candidate(ticket)
    if handler is None:
        return None
    before = _snapshot(ticket)
    ticket.handler = handler
    _save(ticket, before)
    _audit(
        ticket,
        transition="assign",
        source=ticket.state,
        by=None,
        role="system",
        now=now,
        data={"handler": handler.username, "auto": True},
    )
    return handler
