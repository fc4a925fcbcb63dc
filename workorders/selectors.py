"""Reads with a rule. `tickets_visible_to` is the one place that decides who sees which orders;
the API, admin, web pages and exports all start from it."""

from __future__ import annotations

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Expression,
    F,
    IntegerField,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Right
from django.http import Http404
from django.utils import timezone

from accounts.models import Department
from accounts.roles import Role
from workorders.permissions import can_see_full_phone, sees_all_tickets

from .models import Attachment, CoHandling, ReplyTemplate, Ticket
from .phones import normalize_phone


class InSubquery(Expression):
    """`field IN (subquery)` for an uncorrelated subquery; on PostgreSQL written
    `field = ANY(ARRAY(subquery))`: the subquery runs once (an InitPlan) and the condition is
    an index condition, so an OR of several such arms is a BitmapOr of index scans. (`IN
    (subquery)` or `EXISTS` inside an OR is checked row by row over every candidate order.)"""

    output_field = BooleanField()

    def __init__(self, field: str, queryset: QuerySet):
        super().__init__()
        self.lhs = F(field)
        self.rhs = Subquery(queryset)

    def get_source_expressions(self):
        return [self.lhs, self.rhs]

    def set_source_expressions(self, exprs):
        self.lhs, self.rhs = exprs

    def as_sql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def department_subtree(department) -> QuerySet[Department]:
    """The ids of `department` and the departments below it (a subquery)."""
    return Department.objects.filter(path__startswith=department.path).order_by().values("pk")


def _cohandled_q(subtree: QuerySet[Department], *, by_index: bool) -> Q:
    """Orders co-handled by one of `subtree`'s departments, never a correlated EXISTS.
    `by_index`: as an index condition on the ids (`= ANY(ARRAY(…))` on PostgreSQL, see
    `InSubquery`), for where it stands alone (the KPI's co-handled part: lookups of those
    orders). Otherwise `IN (subquery)`, a hashed subplan: ORed with the department's arm the
    condition is tested on every row the planner scans, and an array is searched element by
    element (a lead's queue with 10,000 co-handled orders at 1M: 1.5 s against 0.24 s)."""
    cohandled = CoHandling.objects.filter(department__in=subtree).values("ticket_id")
    return Q(InSubquery("pk", cohandled)) if by_index else Q(pk__in=cohandled)


def visibility_parts(user, *, by_index: bool = False) -> tuple[QuerySet[Department] | None, Q]:
    """The rule of `tickets_visible_to` for a user who does not see every order, in two parts
    `(departments, other)`: the user sees every order whose (current) department is one of
    `departments` (a subquery of ids; None when no department's orders are wholly visible)
    and, whatever their department, the orders matching `other`. Readers that count the
    orders of whole departments another way (the KPI roll-up, `reports.rollup`) take the
    first part from there and only the orders matching `other` outside those departments
    from the orders; `tickets_visible_to` is the union of the two parts. `by_index`: how
    the co-handled orders are written (`_cohandled_q`), not which they are."""
    departments = None
    other = Q(pk__in=[])
    roles = user.roles
    if roles & {Role.LEAD, Role.HANDLER} and user.department_id:
        # Their department's subtree, as the responsible department (the first part: an
        # index condition on the subtree's ids) or a co-handling one.
        departments = department_subtree(user.department)
        other |= _cohandled_q(departments, by_index=by_index)
    if Role.HANDLER in roles:
        other |= Q(handler=user)
    if roles & {Role.FRONTLINE, Role.CHANNEL}:
        # First-contact owner; a channel system reads what it filed.
        other |= Q(reporter=user)
    return departments, other


def wholly_visible_department_ids(user) -> list[int] | None:
    """The ids of the departments whose orders `user` sees wholly (`visibility_parts`' first
    part), for readers that count those orders by department; None when there are none."""
    departments, _other = visibility_parts(user)
    return None if departments is None else list(departments.values_list("pk", flat=True))


def tickets_visible_to(user, qs: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    """Dispatchers, supervisors and auditors see all; leads and handlers their department's
    subtree (as the responsible or a co-handling department); frontline and channel systems
    what they reported (`visibility_parts`)."""
    qs = Ticket.objects.all() if qs is None else qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if sees_all_tickets(user):
        return qs
    departments, other = visibility_parts(user)
    if departments is not None:
        other = Q(InSubquery("department_id", departments)) | other
    return qs.filter(other)


def tickets_visible_outside_departments(
    user, qs: QuerySet[Ticket] | None = None
) -> QuerySet[Ticket]:
    """The orders `user` (who does not see every order) sees whose department is not one of
    the first part of `visibility_parts` — orders without a department included: its second
    part alone. With `visibility_parts(user)[0]` it splits `tickets_visible_to` in two
    disjoint parts."""
    departments, other = visibility_parts(user, by_index=True)
    qs = (Ticket.objects.all() if qs is None else qs).filter(other)
    if departments is None:
        return qs
    return qs.filter(Q(department__isnull=True) | ~Q(department_id__in=departments))


def ticket_get_visible(user, number: str, qs: QuerySet[Ticket] | None = None) -> Ticket:
    """The order by number if the user may see it; 404 otherwise (never 403: no probing)."""
    if "\x00" in number:
        # No order number has one, and PostgreSQL refuses NUL in a text parameter (a 500).
        raise Http404
    try:
        return tickets_visible_to(user, qs).get(number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None


def allowed_transitions(user, ticket: Ticket) -> list[str]:
    """Transitions this user may take on this order now (state and right)."""
    return [t.name for t in ticket.get_available_user_state_transitions(user)]


_timeline_sources: list = []


def register_timeline_source(source) -> None:
    """Apps above `workorders` (notifications, the customer channel) add their rows to an
    order's timeline: `source(ticket, user)` returns items of the shape below."""
    if source not in _timeline_sources:
        _timeline_sources.append(source)


def ticket_timeline(ticket: Ticket, *, user=None) -> list[dict]:
    """Everything that happened to an order, oldest first: audit rows, comments, photos,
    chases, supervision notes, SLA events and notifications about it (the user's own, unless
    the user sees all orders). Each item: {"at", "type", "actor", "text", "obj"}."""
    from sla.models import SlaEvent

    items: list[dict] = []
    for row in ticket.audit.select_related("actor"):
        items.append(
            {
                "at": row.at,
                "type": "transition",
                "name": row.transition,
                "actor": row.actor,
                "role": row.actor_role,
                "text": row.comment,
                "obj": row,
            }
        )
    for c in ticket.comments.select_related("author"):
        items.append(
            {"at": c.created_at, "type": "comment", "actor": c.author, "text": c.body, "obj": c}
        )
    for a in ticket.attachments.select_related("uploaded_by"):
        items.append(
            {
                "at": a.created_at,
                "type": "attachment",
                "actor": a.uploaded_by,
                "text": a.original_name,
                "obj": a,
            }
        )
    for ch in ticket.chases.select_related("by"):
        items.append(
            {"at": ch.created_at, "type": "chase", "actor": ch.by, "text": ch.note, "obj": ch}
        )
    for s in ticket.supervisions.select_related("by"):
        items.append(
            {"at": s.created_at, "type": "supervision", "actor": s.by, "text": s.note, "obj": s}
        )
    for e in SlaEvent.objects.filter(ticket=ticket).select_related("clock"):
        items.append(
            {
                "at": e.recorded_at,
                "type": "sla_event",
                "actor": None,
                "text": f"{e.clock.get_kind_display()} · {e.get_kind_display()}",
                "obj": e,
            }
        )
    for source in _timeline_sources:
        items.extend(source(ticket, user))
    items.sort(key=lambda i: (i["at"], i["type"]))
    return items


def visible_attachment(user, pk) -> Attachment | None:
    """A photo, if the user may see its order."""
    return (
        Attachment.objects.filter(pk=pk, ticket__in=tickets_visible_to(user).values("pk"))
        .select_related("ticket")
        .first()
    )


def tickets_matching_phone(
    user, digits: str, qs: QuerySet[Ticket] | None = None, *, suffix: bool = False
) -> QuerySet[Ticket]:
    """Orders whose customer phone matches the typed `digits` (4 or more, hyphen-free): the
    whole number, or with `suffix` its last digits. The last four digits (shown in the masked
    number) match for everyone. More digits are compared only where the user may see the full
    number (`can_see_full_phone`: roles with the right, the reporter on their own orders);
    elsewhere only their last four are, so the result never depends on hidden digits and a
    search cannot confirm a number the user may not see. `qs`: orders the user may see."""
    qs = tickets_visible_to(user) if qs is None else qs
    by_last4 = qs.annotate(phone_last4=Right("customer_phone", 4)).filter(
        phone_last4=digits[-4:]  # the expression index ticket_phone_last4
    )
    if len(digits) == 4:
        return by_last4
    if suffix:
        full = Q(customer_phone__endswith=digits)
    else:
        full = Q(customer_phone__in={digits, normalize_phone(digits)})
    if can_see_full_phone(user):
        return qs.filter(full)
    return by_last4.filter(full | ~Q(reporter=user))


# --------------------------------------------------------------------------- the department's day

# An order is on a handler's desk from dispatch until the reply (a return request is decided
# by the dispatcher; a replied order waits for the visit).
WORKING_STATES = ("dispatched", "accepted", "suspended")


def reply_templates_for(ticket: Ticket, *, cause: str = ""):
    """回复模板 that match the order: active, of its department or a line above it, for its
    category, the category's group or any category (and `cause` if given); the most specific
    category first. One query."""
    if ticket.department_id is None:
        return ReplyTemplate.objects.none()
    dept = ticket.department
    parts = [p for p in dept.path.split("/") if p]
    paths = ["".join(p + "/" for p in parts[:i]) for i in range(1, len(parts) + 1)]
    category = ticket.category
    cats = [category.pk] + ([category.parent_id] if category.parent_id else [])
    qs = ReplyTemplate.objects.filter(
        Q(category__isnull=True) | Q(category_id__in=cats),
        is_active=True,
        department__path__in=paths,
    )
    if cause:
        qs = qs.filter(cause=cause)
    specificity = Case(
        When(category_id=category.pk, then=Value(0)),
        When(category__isnull=True, then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return qs.annotate(specificity=specificity).order_by("specificity", "sort_order", "id")


def handler_workload(*, department, now=None) -> list[dict]:
    """Per active handler of the department's subtree: open orders on their desk and how many
    of those are past the promise. Two queries, whatever the number of handlers or orders."""
    from accounts.models import User
    from sla.models import SlaStatus
    from sla.selectors import sla_status_q

    now = now or timezone.now()
    handlers = list(
        User.objects.filter(
            is_active=True,
            groups__name=Role.HANDLER,
            department__path__startswith=department.path,
        )
        .select_related("department")
        .distinct()
        .order_by("department__path", "username")
    )
    counts = {
        row["handler"]: row
        for row in Ticket.objects.filter(handler__in=handlers, state__in=WORKING_STATES)
        .values("handler")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=sla_status_q(SlaStatus.BREACHED, now)),
        )
        .order_by()
    }
    return [
        {
            "user": user,
            "open": counts.get(user.pk, {}).get("open", 0),
            "overdue": counts.get(user.pk, {}).get("overdue", 0),
        }
        for user in handlers
    ]
