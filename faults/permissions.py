"""Who may do what to a mass fault: the one place every interface asks (FSM `permission=`
callables, services, API, admin, reports). Same shape as `workorders.permissions`: each action
lists the roles that may take it, the permission the role's group must carry (on
`faults.Fault`), and the scope rule that must hold for this fault."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.roles import Role
from workorders.permissions import Grant, sees_all_tickets

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Fault


def _in_department_scope(user: User, fault: Fault) -> bool:
    """The fault's department is the user's department or below it."""
    dept = fault.department
    return dept is not None and user.department is not None and dept.is_within(user.department)


RULES: dict[str, tuple[Grant, ...]] = {
    "view": (
        Grant(Role.DISPATCHER, "view_fault"),
        Grant(Role.SUPERVISOR, "view_fault"),
        Grant(Role.AUDITOR, "view_fault"),
        Grant(Role.LEAD, "view_fault", _in_department_scope),
        Grant(Role.HANDLER, "view_fault", _in_department_scope),
    ),
    # --- transitions (DESIGN.md §10) ---
    "confirm": (Grant(Role.DISPATCHER, "confirm_fault"),),
    "dismiss": (Grant(Role.DISPATCHER, "confirm_fault"),),
    # Resolving replies to every open child as the resolver: the children's own `reply` right
    # (lead of the department) is checked again on each of them.
    "resolve": (Grant(Role.LEAD, "resolve_fault", _in_department_scope),),
    "close": (Grant(Role.DISPATCHER, "close_fault"),),
    # --- actions on the fault that are not state changes ---
    "link": (
        Grant(Role.DISPATCHER, "link_fault"),
        Grant(Role.LEAD, "link_fault", _in_department_scope),
    ),
    "unlink": (
        Grant(Role.DISPATCHER, "link_fault"),
        Grant(Role.LEAD, "link_fault", _in_department_scope),
    ),
    "set_eta": (
        Grant(Role.DISPATCHER, "set_fault_eta"),
        Grant(Role.LEAD, "set_fault_eta", _in_department_scope),
    ),
}

# What the system itself does: detection creates and grows faults (linking orders), a report
# that matches an open fault is linked, and a resolved fault whose orders are all finished is
# closed.
SYSTEM_ACTIONS = frozenset({"detect", "link", "close"})

TRANSITIONS = ("confirm", "dismiss", "resolve", "close")


def acting_role(user: User | None, action: str, fault: Fault | None = None) -> str | None:
    """The role under which `user` may take `action` on `fault`, or None if they may not.
    `user=None` is the system; it may take SYSTEM_ACTIONS only."""
    if user is None:
        return "system" if action in SYSTEM_ACTIONS else None
    if not user.is_authenticated or not user.is_active:
        return None
    for grant in RULES.get(action, ()):
        if (
            grant.role in user.roles
            and user.has_perm(f"faults.{grant.perm}")
            and (fault is None or grant.scope(user, fault))
        ):
            return str(grant.role)
    return None


def may(user: User | None, action: str, fault: Fault | None = None) -> bool:
    return acting_role(user, action, fault) is not None


def sees_all_faults(user: User) -> bool:
    """Those who see every order see every fault (dispatchers, supervisors, auditors)."""
    return sees_all_tickets(user) and user.has_perm("faults.view_fault")
