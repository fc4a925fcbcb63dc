"""Reads for the handlers' and leads' phone pages (装维班 in the field): their queues, the
pending requests of a lead's department, and what the order page offers them. Visibility
starts from `tickets_visible_to`; who may do what is `workorders.permissions.may`."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, QuerySet

from accounts.models import Department, User
from accounts.roles import Role
from workorders.models import (
    ExtensionRequest,
    RequestStatus,
    State,
    SuspensionRequest,
    Ticket,
)
from workorders.permissions import can_see_full_phone, may
from workorders.selectors import tickets_visible_to

# Work a handler or lead is expected to act on (not waiting for a visit, a ruling or done).
WORK_STATES = (State.DISPATCHED, State.ACCEPTED, State.SUSPENDED, State.RETURN_REQUESTED)
UNASSIGNED_STATES = (State.DISPATCHED, State.ACCEPTED, State.SUSPENDED)
# Roles whose day is in the back office: a handler who also holds one lands there.
DESK_ROLES = frozenset({Role.LEAD, Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR})


def works_in_the_field(user) -> bool:
    """Handlers without a desk role (装维班 and the like) start on the phone queue."""
    roles = user.roles
    return Role.HANDLER in roles and not roles & DESK_ROLES


def uses_staff_pages(user) -> bool:
    return bool(user.roles & {Role.HANDLER, Role.LEAD})


def _by_time_left(qs: QuerySet[Ticket], now: datetime) -> QuerySet[Ticket]:
    # Least time left first (overdue is negative); orders whose promise stopped last.
    return (
        qs.with_sla(now=now)
        .select_related("category", "department", "handler")
        .order_by(F("sla_remaining").asc(nulls_last=True), "-is_urgent", "id")
    )


def queue_mine(user, *, now: datetime) -> QuerySet[Ticket]:
    """Open work assigned to this user, least time left first."""
    return _by_time_left(tickets_visible_to(user).filter(handler=user, state__in=WORK_STATES), now)


def _department_scope(user) -> Q:
    department = user.department
    if department is None:
        return Q(pk__in=[])
    return Q(department__path__startswith=department.path)


def queue_department(user, *, now: datetime) -> QuerySet[Ticket]:
    """Open orders of the user's department (and its teams) with nobody assigned: the ones to
    claim (签收) or to assign, least time left first."""
    qs = tickets_visible_to(user).filter(
        _department_scope(user), handler__isnull=True, state__in=UNASSIGNED_STATES
    )
    return _by_time_left(qs, now)


def pending_requests(user) -> list:
    """Pending suspension and extension requests on orders of the lead's department, oldest
    first (each with `kind`). Returns and co-handling are not decided by a lead: a dispatcher
    rules on returns, and co-handling is asked for by the lead, not of them."""
    tickets = tickets_visible_to(user).filter(_department_scope(user)).values("pk")
    related = ("ticket", "ticket__category", "ticket__department", "requested_by")
    rows = []
    for model, kind in ((SuspensionRequest, "suspension"), (ExtensionRequest, "extension")):
        pending = model.objects.filter(status=RequestStatus.PENDING, ticket__in=tickets)
        for req in pending.select_related(*related):
            req.kind = kind
            rows.append(req)
    rows.sort(key=lambda r: (r.requested_at, r.kind, r.pk))
    return rows


def handler_candidates(department: Department | None) -> QuerySet[User]:
    """Active handlers of the department's subtree (the service checks membership again)."""
    if department is None:
        return User.objects.none()
    return (
        User.objects.filter(
            is_active=True,
            groups__name=Role.HANDLER,
            department__path__startswith=department.path,
        )
        .select_related("department")
        .distinct()
        .order_by("department__path", "username")
    )


def order_actions(user, ticket: Ticket, transitions: list[str]) -> dict:
    """What the order page offers a handler or lead (each still checked by its service)."""
    working = ticket.state in UNASSIGNED_STATES
    return {
        "may_claim": "claim" in transitions,
        "may_resume": "resume" in transitions,
        "may_request_return": "request_return" in transitions,
        "may_reply": "reply" in transitions,
        "may_request_suspension": ticket.state == State.ACCEPTED
        and may(user, "request_suspension", ticket),
        "may_request_extension": ticket.state in (State.ACCEPTED, State.SUSPENDED)
        and may(user, "request_extension", ticket),
        "may_cohandle": working and may(user, "request_cohandling", ticket),
        "may_assign": working and may(user, "assign", ticket),
        "phone_tel": ticket.customer_phone if can_see_full_phone(user, ticket) else "",
    }


def handler_choices(department: Department | None) -> list[tuple[int, str]]:
    return [
        (u.pk, f"{u.get_full_name() or u.username} · {u.department.name}")
        for u in handler_candidates(department)
    ]


def cohandling_departments(ticket: Ticket) -> list[Department]:
    return list(
        Department.objects.filter(is_active=True).exclude(pk=ticket.department_id).order_by("path")
    )


def order_forms(request, ticket: Ticket, transitions: list[str], forms: dict) -> dict:
    """The handler's and lead's part of the order page: what they may do and the forms (a
    bound one, with its errors, when the page is shown again after a refused submit)."""
    from .staff_forms import (
        AssignForm,
        ClaimForm,
        CohandlingForm,
        ExtensionRequestForm,
        ReplyForm,
        ResumeForm,
        ReturnForm,
        SuspensionRequestForm,
    )

    user = request.user
    actions = order_actions(user, ticket, transitions)
    if not uses_staff_pages(user):
        return {"phone_tel": actions["phone_tel"]}
    initial = {"version": ticket.version}
    context = dict(actions, staff_actions=True, nav="queue")
    context["pending_suspension"] = ticket.suspensions.filter(status=RequestStatus.PENDING).first()
    context["pending_extension"] = ticket.extensions.filter(status=RequestStatus.PENDING).first()
    if actions["may_claim"]:
        context["claim_form"] = forms.get("claim_form") or ClaimForm(initial=initial)
    if actions["may_resume"]:
        context["resume_form"] = forms.get("resume_form") or ResumeForm(initial=initial)
    if actions["may_request_return"]:
        context["return_form"] = forms.get("return_form") or ReturnForm(initial=initial)
    if actions["may_reply"]:
        form = forms.get("reply_form")
        if form is None:
            form = ReplyForm(initial=initial)
        context["reply_form"] = form
    if actions["may_request_suspension"]:
        context["suspension_form"] = forms.get("suspension_form") or SuspensionRequestForm(
            initial=initial
        )
    if actions["may_request_extension"]:
        context["extension_form"] = forms.get("extension_form") or ExtensionRequestForm(
            initial=initial
        )
    if actions["may_cohandle"]:
        context["cohandling_form"] = forms.get("cohandling_form") or CohandlingForm(
            initial=initial, departments=cohandling_departments(ticket)
        )
    if actions["may_assign"]:
        context["assign_form"] = forms.get("assign_form") or AssignForm(
            initial=initial, handlers=handler_choices(ticket.department)
        )
    return context
