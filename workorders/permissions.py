"""Who may do what: the one place that answers "may this user do this action on this order".

Every interface (FSM `permission=` callables, services, DRF permissions, admin
`has_*_permission`, web views) asks `acting_role()` / `may()`; nothing else decides rights.
Each action lists the roles that may take it, the permission the role's group must carry, and
the scope rule that must hold for this order (own department subtree, assigned handler, …).
State is not checked here: the FSM decides which transitions the order's state allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accounts.roles import Role

from .phones import mask_phone  # noqa: F401  (re-exported: masking goes with the rights)

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Ticket


def _in_department_scope(user: User, ticket: Ticket) -> bool:
    """The order's current department is the user's department or below it."""
    dept = ticket.department
    return dept is not None and user.department is not None and dept.is_within(user.department)


def _is_assigned_handler(user: User, ticket: Ticket) -> bool:
    # Being assigned is the scope: a lead may assign a team member to a line-level order.
    return ticket.handler_id == user.pk


def _is_reporter(user: User, ticket: Ticket) -> bool:
    return ticket.reporter_id == user.pk


def _anywhere(user: User, ticket: Ticket | None) -> bool:
    return True


def _lead_may_approve_extension(user: User, ticket: Ticket) -> bool:
    # Urgent orders' extensions always need the supervisor (DESIGN.md §4).
    return _in_department_scope(user, ticket) and not ticket.is_urgent


def _lead_may_correct_category(user: User, ticket: Ticket) -> bool:
    # The department's live work only; a closed order's category is the dispatcher's to fix.
    return _in_department_scope(user, ticket) and ticket.is_open


@dataclass(frozen=True)
class Grant:
    role: str
    perm: str
    scope: Callable[[User, Ticket], bool] = _anywhere


RULES: dict[str, tuple[Grant, ...]] = {
    # --- transitions (DESIGN.md §3) ---
    "report": (Grant(Role.FRONTLINE, "report_ticket"), Grant(Role.DISPATCHER, "report_ticket")),
    "dispatch": (Grant(Role.DISPATCHER, "dispatch_ticket"),),
    "claim": (
        Grant(Role.LEAD, "claim_ticket", _in_department_scope),
        Grant(Role.HANDLER, "claim_ticket", _in_department_scope),
    ),
    "request_return": (Grant(Role.LEAD, "request_return", _in_department_scope),),
    "rule_return": (Grant(Role.DISPATCHER, "rule_return"),),
    "redispatch": (Grant(Role.DISPATCHER, "dispatch_ticket"),),
    "suspend": (
        Grant(Role.LEAD, "approve_suspension", _in_department_scope),
        Grant(Role.SUPERVISOR, "approve_suspension"),
    ),
    "resume": (
        Grant(Role.LEAD, "resume_ticket", _in_department_scope),
        Grant(Role.HANDLER, "resume_ticket", _in_department_scope),
    ),
    "reply": (
        Grant(Role.HANDLER, "reply_ticket", _is_assigned_handler),
        Grant(Role.LEAD, "reply_ticket", _in_department_scope),
    ),
    "reject_reply": (Grant(Role.DISPATCHER, "review_reply"),),
    "close": (
        Grant(Role.DISPATCHER, "visit_ticket"),
        Grant(Role.FRONTLINE, "visit_on_spot", _is_reporter),
    ),
    "redo": (Grant(Role.SUPERVISOR, "confirm_redo"),),
    "cancel": (Grant(Role.DISPATCHER, "cancel_ticket"),),
    # --- actions that are records on the order, not transitions ---
    "assign": (Grant(Role.LEAD, "assign_ticket", _in_department_scope),),
    "request_suspension": (
        Grant(Role.HANDLER, "request_suspension", _is_assigned_handler),
        Grant(Role.LEAD, "request_suspension", _in_department_scope),
    ),
    "request_extension": (
        Grant(Role.HANDLER, "request_extension", _is_assigned_handler),
        Grant(Role.LEAD, "request_extension", _in_department_scope),
    ),
    "approve_extension": (
        Grant(Role.SUPERVISOR, "approve_extension"),
        Grant(Role.LEAD, "approve_extension", _lead_may_approve_extension),
    ),
    # 协办: the lead for the department; the handler working the order from the field (issue 16:
    # the engineer at the customer's door is the one who sees another department is needed).
    "request_cohandling": (
        Grant(Role.LEAD, "request_cohandling", _in_department_scope),
        Grant(Role.HANDLER, "request_cohandling", _is_assigned_handler),
    ),
    "supervise": (Grant(Role.SUPERVISOR, "supervise_ticket"),),
    "propose_redo": (
        Grant(Role.DISPATCHER, "propose_redo"),
        Grant(Role.FRONTLINE, "visit_on_spot", _is_reporter),
    ),
    "change_urgency": (Grant(Role.DISPATCHER, "change_urgency"),),
    # 改分类: classifying is the dispatcher's; a lead may correct an order of their department
    # (the right that lets them say an order is not theirs also lets them say what it is).
    "correct_category": (
        Grant(Role.DISPATCHER, "dispatch_ticket"),
        Grant(Role.LEAD, "request_return", _lead_may_correct_category),
    ),
    # Regulator track: mark an order 申诉 afterwards; a supervisor signs it off before close.
    "mark_regulator": (
        Grant(Role.DISPATCHER, "mark_regulator"),
        Grant(Role.SUPERVISOR, "mark_regulator"),
    ),
    "regulator_signoff": (Grant(Role.SUPERVISOR, "signoff_regulator"),),
    # A channel system files orders for its own channel (the service checks which channel).
    "intake": (Grant(Role.CHANNEL, "intake_ticket"),),
    # The caller's orders by phone (not about one order; the hotline check is the service's).
    "lookup_customer": (
        Grant(Role.DISPATCHER, "lookup_customer"),
        Grant(Role.SUPERVISOR, "lookup_customer"),
        Grant(Role.CHANNEL, "lookup_customer"),
    ),
    # The person who reported the order may add to its description (补充描述).
    "add_description": (
        Grant(Role.FRONTLINE, "report_ticket", _is_reporter),
        Grant(Role.DISPATCHER, "report_ticket", _is_reporter),
    ),
    "chase": (
        Grant(Role.FRONTLINE, "chase_ticket", _is_reporter),
        Grant(Role.DISPATCHER, "chase_ticket"),
        Grant(Role.SUPERVISOR, "chase_ticket"),
    ),
    "comment": (
        Grant(Role.FRONTLINE, "comment_ticket", _is_reporter),
        Grant(Role.DISPATCHER, "comment_ticket"),
        Grant(Role.LEAD, "comment_ticket", _in_department_scope),
        Grant(Role.HANDLER, "comment_ticket", _in_department_scope),
        Grant(Role.SUPERVISOR, "comment_ticket"),
    ),
}

# Transitions the system itself may take (routing rule, until-time resume, auto-close).
SYSTEM_ACTIONS = frozenset({"dispatch", "resume", "close"})
# What the customer may do themselves, answering the survey of the status page (no user):
# give the verdict of a visit, which closes the order or proposes a redo.
CUSTOMER_ACTIONS = frozenset({"close", "propose_redo"})
CUSTOMER = "customer"

TRANSITIONS = (
    "dispatch",
    "claim",
    "request_return",
    "rule_return",
    "redispatch",
    "suspend",
    "resume",
    "reply",
    "reject_reply",
    "close",
    "redo",
    "cancel",
)


def acting_role(
    user: User | None, action: str, ticket: Ticket | None = None, *, customer: bool = False
) -> str | None:
    """The role under which `user` may take `action` on `ticket`, or None if they may not.

    `user=None` is the system (routing rules, the SLA sweep); it may take SYSTEM_ACTIONS only.
    `user=None, customer=True` is the customer answering the survey: CUSTOMER_ACTIONS only.
    """
    if user is None:
        if customer:
            return CUSTOMER if action in CUSTOMER_ACTIONS else None
        return "system" if action in SYSTEM_ACTIONS else None
    if customer:
        return None
    if not user.is_authenticated or not user.is_active:
        return None
    for grant in RULES.get(action, ()):
        if (
            grant.role in user.roles
            and user.has_perm(f"workorders.{grant.perm}")
            and (ticket is None or grant.scope(user, ticket))
        ):
            return str(grant.role)
    return None


def may(user: User | None, action: str, ticket: Ticket | None = None) -> bool:
    return acting_role(user, action, ticket) is not None


def can_see_full_phone(user: User, ticket: Ticket | None = None) -> bool:
    """Roles that call the customer see the number; the reporter entered it themselves."""
    if user.has_perm("workorders.view_full_phone"):
        return True
    return ticket is not None and ticket.reporter_id == user.pk


def can_view_reports(user: User) -> bool:
    return user.is_active and user.has_perm("workorders.view_reports")


def can_export(user: User) -> bool:
    return user.is_active and user.has_perm("workorders.export_tickets")


def sees_all_tickets(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.has_perm("workorders.view_all_tickets"))


def may_manage_department_setup(user: User, department, perm: str = "change") -> bool:
    """A department's reply templates, handler skills and auto-assign rule: superusers keep
    every department's; a lead those of their own department and the teams below it (with the
    model right `perm` of their group, e.g. "workorders.add_replytemplate")."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    if Role.LEAD not in user.roles or user.department_id is None:
        return False
    if "." in perm and not user.has_perm(perm):
        return False
    return department is None or department.is_within(user.department)


def may_view_workload(user: User) -> bool:
    """The handlers' workload: dispatchers and supervisors for any department, leads for
    their own."""
    if not user.is_active:
        return False
    return user.is_superuser or bool(user.roles & {Role.DISPATCHER, Role.SUPERVISOR, Role.LEAD})
