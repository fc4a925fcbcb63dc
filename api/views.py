"""Orders and their transitions. Views parse, call a service or selector, and render; rights,
states and validation are the services' (their DomainErrors become the error shape)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from workorders import services
from workorders.errors import Invalid
from workorders.selectors import tickets_visible_to

from . import serializers as s
from .common import (
    IDEMPOTENCY_HEADER,
    REPLAY_HEADER,
    get_ticket,
    idempotency_key,
    idempotent,
    if_match_version,
    ticket_created_response,
    ticket_detail_get,
    ticket_detail_response,
)
from .filters import TicketFilter
from .pagination import Key, KeysetPagination

IDEMPOTENCY_PARAM = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Client-chosen key (≤100 ASCII chars): the same key and body again returns "
    "the first result; the same key with another body answers 422.",
)
IF_MATCH_PARAM = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the detail the client saw; 412 if the order changed since "
    "(checked under the order's row lock, so two clients with the same ETag cannot both win).",
)
NUMBER_PARAM = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="Order number, e.g. GD20261122000123"
)


class PingView(GenericAPIView):
    """A trivial JSON view: the floor for the API benchmark and a health check."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []
    serializer_class = s.EmptySerializer

    @extend_schema(
        responses={200: {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
        tags=["meta"],
    )
    def get(self, request):
        return Response({"ok": True})


class TicketList(GenericAPIView):
    """Orders the user may see, filtered, in priority, due-time or report-time order."""

    serializer_class = s.TicketListSerializer
    filterset_class = TicketFilter
    pagination_class = KeysetPagination
    keyset_default = "priority"
    keyset_orderings = {
        # DESIGN.md §5: urgent first, then VIP/elderly/claimed-escalation/repeat, nearest due.
        "priority": [
            Key("is_urgent", desc=True),
            Key("is_priority", desc=True),
            Key("promise_due_at", nullable=True),
            Key("id"),
        ],
        "due": [Key("promise_due_at", nullable=True), Key("id")],
        # 越级风险: highest score first.
        "risk": [Key("risk_score", desc=True), Key("id", desc=True)],
        "-reported": [Key("reported_at", desc=True), Key("id", desc=True)],
        "reported": [Key("reported_at"), Key("id")],
    }

    def get_queryset(self):
        return (
            tickets_visible_to(self.request.user)
            .with_sla()
            # Not category__parent: a seventh joined table made PostgreSQL spend ~15 ms per
            # page planning the join order (0.4 ms to run it); the parent's name comes from the
            # per-process copy of the categories (`category_path`).
            .select_related("category", "department", "handler", "reporter")
        )

    @extend_schema(
        operation_id="tickets_list",
        tags=["tickets"],
        responses={200: s.TicketListSerializer(many=True)},
    )
    def get(self, request):
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="tickets_report",
        tags=["tickets"],
        request=s.TicketCreateSerializer,
        responses={201: s.TicketDetailSerializer},
        parameters=[IDEMPOTENCY_PARAM],
        description="吹哨: report an order. With an Idempotency-Key the same request again "
        "returns the first order (header Idempotent-Replayed: true).",
    )
    def post(self, request):
        key = idempotency_key(request)
        form = s.TicketCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        ticket = services.ticket_report(
            by=request.user,
            category=data.pop("category"),
            customer_phone=data.pop("customer_phone"),
            description=data.pop("description"),
            urgency=data.pop("urgency", None),
            urgency_reason=data.pop("urgency_reason", ""),
            idempotency_key=key,
            fingerprint_extra={"interface": "api"},
            **data,
        )
        headers = {REPLAY_HEADER: "true"} if getattr(ticket, "replayed", False) else {}
        return ticket_created_response(request, ticket, headers=headers)


class TicketDetail(GenericAPIView):
    serializer_class = s.TicketDetailSerializer

    @extend_schema(operation_id="tickets_retrieve", tags=["tickets"], parameters=[NUMBER_PARAM])
    def get(self, request, number):
        return ticket_detail_get(request, number)

    @extend_schema(
        operation_id="tickets_update",
        tags=["tickets"],
        parameters=[NUMBER_PARAM, IF_MATCH_PARAM],
        request=s.TicketPatchSerializer,
        responses={200: s.TicketDetailSerializer},
        description="The reporter adds to the description (`description_addition`); a "
        "dispatcher changes the urgency with a reason (`urgency`, `urgency_reason`).",
    )
    def patch(self, request, number):
        form = s.TicketPatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if "description_addition" not in data and "urgency" not in data:
            raise ValidationError({"__all__": [_("请提供 description_addition 或 urgency。")]})
        with transaction.atomic():
            ticket = get_ticket(request, number)
            # The version the client saw applies to the first change; the second follows it.
            seen = if_match_version(request, ticket)
            if "description_addition" in data:
                services.ticket_add_description(
                    ticket=ticket,
                    by=request.user,
                    text=data["description_addition"],
                    expected_version=seen,
                )
                seen = None
            if "urgency" in data:
                services.ticket_change_urgency(
                    ticket=ticket,
                    by=request.user,
                    urgency=data["urgency"],
                    reason=data.get("urgency_reason", ""),
                    expected_version=seen,
                )
        return ticket_detail_response(request, ticket)


# --------------------------------------------------------------------------- transitions


def _visible_number(user, number: str, field: str):
    if not number:
        return None
    found = tickets_visible_to(user).filter(number=number.strip().upper()).first()
    if found is None:
        raise Invalid(fields={field: [_("工单不存在。")]})
    return found


TRANSITIONS = {
    "dispatch": (
        s.DispatchSerializer,
        "派单: send a reported order to the responsible department (and co-handlers).",
        lambda t, u, d, v: services.ticket_dispatch(
            ticket=t,
            by=u,
            department=d["department"],
            co_departments=d.get("co_departments", []),
            comment=d.get("comment", ""),
            expected_version=v,
        ),
    ),
    "claim": (
        s.ClaimSerializer,
        "签收/报到: the department takes the order; a lead may name its handler.",
        lambda t, u, d, v: services.ticket_claim(
            ticket=t, by=u, handler=d.get("handler"), expected_version=v
        ),
    ),
    "request_return": (
        s.ReasonSerializer,
        "退单: the department's lead says the order is not theirs.",
        lambda t, u, d, v: services.ticket_request_return(
            ticket=t, by=u, reason=d["reason"], expected_version=v
        ),
    ),
    "rule_return": (
        s.RuleReturnSerializer,
        "裁定退单: uphold (new department) or reject (same department, with a comment).",
        lambda t, u, d, v: services.ticket_rule_return(
            ticket=t,
            by=u,
            uphold=d["uphold"],
            department=d.get("department"),
            comment=d.get("comment", ""),
            expected_version=v,
        ),
    ),
    "redispatch": (
        s.RedispatchSerializer,
        "转派: move the order to another department, with a reason.",
        lambda t, u, d, v: services.ticket_redispatch(
            ticket=t, by=u, department=d["department"], reason=d["reason"], expected_version=v
        ),
    ),
    "suspend": (
        s.SuspendSerializer,
        "挂起: a lead or supervisor suspends for a customer-side reason until a time.",
        lambda t, u, d, v: services.ticket_suspend(
            ticket=t,
            by=u,
            reason=d["reason"],
            until=d["until"],
            note=d.get("note", ""),
            expected_version=v,
        ),
    ),
    "resume": (
        s.EmptySerializer,
        "解挂: the promise clock runs again; its due time moves by the paused span.",
        lambda t, u, d, v: services.ticket_resume(ticket=t, by=u, expected_version=v),
    ),
    "reply": (
        s.ReplySerializer,
        "回单: result, cause category and self-assessed resolution; optionally the public "
        "reply, the words the customer reads on the status page.",
        lambda t, u, d, v: services.ticket_reply(
            ticket=t,
            by=u,
            result=d["result"],
            cause=d["cause"],
            resolved=d["resolved"],
            public_reply=d.get("public_reply", ""),
            expected_version=v,
        ),
    ),
    "reject_reply": (
        s.ReasonSerializer,
        "驳回回单: the promise clock resumes; the wait counts as paused.",
        lambda t, u, d, v: services.ticket_reject_reply(
            ticket=t, by=u, reason=d["reason"], expected_version=v
        ),
    ),
    "close": (
        s.CloseSerializer,
        "回访办结: record the visit. A resolved, (basically) satisfied verdict or an "
        "unreachable customer closes the order; an unsatisfied or unresolved verdict proposes "
        "a redo for a supervisor to confirm (the order stays `replied`).",
        lambda t, u, d, v: services.ticket_visit(
            ticket=t,
            by=u,
            outcome=d["outcome"],
            resolved=d.get("resolved"),
            satisfaction=d.get("satisfaction", ""),
            note=d.get("note", ""),
            expected_version=v,
        ),
    ),
    "redo": (
        s.RedoSerializer,
        "重办: a supervisor confirms the proposed redo; the order goes back to the department.",
        lambda t, u, d, v: services.ticket_redo(
            ticket=t, by=u, reason=d.get("reason", ""), expected_version=v
        ),
    ),
    "cancel": (
        s.CancelSerializer,
        "作废: before the department has taken it; optionally a duplicate of another order.",
        lambda t, u, d, v: services.ticket_cancel(
            ticket=t,
            by=u,
            reason=d["reason"],
            duplicate_of=_visible_number(u, d.get("duplicate_of", ""), "duplicate_of"),
            expected_version=v,
        ),
    ),
}


class TransitionView(GenericAPIView):
    name = ""

    def post(self, request, number):
        serializer_class, _doc, run = TRANSITIONS[self.name]

        def write():
            ticket = get_ticket(request, number)
            form = serializer_class(data=request.data)
            form.is_valid(raise_exception=True)
            # The service locks the order and checks the version the client saw against it.
            run(ticket, request.user, form.validated_data, if_match_version(request, ticket))
            return ticket_detail_response(request, ticket)

        return idempotent(request, write)


def transition_view(name: str):
    serializer_class, doc, _run = TRANSITIONS[name]
    view = type(
        f"Transition_{name}",
        (TransitionView,),
        {"name": name, "serializer_class": serializer_class, "__doc__": doc},
    )

    def post(self, request, number):
        return TransitionView.post(self, request, number)

    view.post = extend_schema(
        operation_id=f"tickets_transition_{name}",
        tags=["transitions"],
        summary=name,
        description=doc,
        parameters=[NUMBER_PARAM, IF_MATCH_PARAM, IDEMPOTENCY_PARAM],
        request=serializer_class,
        responses={200: s.TicketDetailSerializer},
    )(post)
    return view


@extend_schema(exclude=True)
class UnknownTransition(GenericAPIView):
    serializer_class = s.EmptySerializer

    def post(self, request, number, name):
        raise NotFound(_("没有名为“%(name)s”的流转。") % {"name": name[:40]})
