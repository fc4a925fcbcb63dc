"""API under /api/v1/faults/: list, detail, and one endpoint per action (confirm, dismiss,
link, unlink, eta, resolve, close). The same rules as the order endpoints: the error shape of
`api.errors`, an ETag per fault version with If-Match on writes (412 when stale), and
Idempotency-Key replay. Views parse and call `faults.services`; rights and states are theirs."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.models import Department
from api.common import idempotent
from api.pagination import Key, KeysetPagination
from api.serializers import (
    CategoryBriefSerializer,
    DepartmentBriefSerializer,
    SafePrimaryKeyRelatedField,
    UserBriefSerializer,
)
from api.views import IDEMPOTENCY_PARAM, IF_MATCH_PARAM
from sla.models import SlaStatus
from sla.selectors import sla_status_expression
from workorders.errors import Invalid, Stale
from workorders.models import CauseCategory
from workorders.selectors import tickets_visible_to

from . import services
from .models import Fault, FaultState, LinkHow
from .selectors import faults_visible_to

NUMBER_PARAM = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="Fault number, e.g. QZ202611220001"
)


# --------------------------------------------------------------------------- shapes


class FaultSerializer(serializers.Serializer):
    number = serializers.CharField()
    state = serializers.ChoiceField(choices=FaultState.choices)
    state_display = serializers.CharField(source="get_state_display")
    category = CategoryBriefSerializer()
    region = serializers.CharField()
    by_district = serializers.BooleanField()
    center = serializers.SerializerMethodField()
    radius_m = serializers.IntegerField(allow_null=True)
    department = DepartmentBriefSerializer(allow_null=True)
    order_count = serializers.IntegerField()
    detected_at = serializers.DateTimeField()
    first_reported_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    eta = serializers.DateTimeField(allow_null=True)
    customer_message = serializers.CharField()
    version = serializers.IntegerField()

    def get_center(self, fault) -> list[float] | None:
        if fault.center_lat is None:
            return None
        return [float(fault.center_lat), float(fault.center_lng)]


class ChildSerializer(serializers.Serializer):
    number = serializers.CharField(source="ticket.number")
    state = serializers.CharField(source="ticket.state")
    reported_at = serializers.DateTimeField(source="ticket.reported_at")
    sla_status = serializers.ChoiceField(choices=SlaStatus.choices, allow_null=True)
    how = serializers.ChoiceField(choices=LinkHow.choices)
    linked_by = UserBriefSerializer(allow_null=True)
    linked_at = serializers.DateTimeField()


class AuditSerializer(serializers.Serializer):
    transition = serializers.CharField()
    source = serializers.CharField()
    target = serializers.CharField()
    actor = UserBriefSerializer(allow_null=True)
    actor_role = serializers.CharField()
    at = serializers.DateTimeField()
    comment = serializers.CharField()
    data = serializers.JSONField()


class FaultDetailSerializer(FaultSerializer):
    dismiss_reason = serializers.CharField()
    public_reply = serializers.CharField()
    children = serializers.SerializerMethodField()
    audit = serializers.SerializerMethodField()

    @extend_schema_field(ChildSerializer(many=True))
    def get_children(self, fault):
        links = (
            fault.links.filter(unlinked_at__isnull=True)
            .select_related("ticket", "linked_by")
            .annotate(sla_status=sla_status_expression("ticket__promise_clock__", timezone.now()))
            .order_by("ticket__number")
        )
        user = self.context["request"].user
        visible = set(
            tickets_visible_to(user)
            .filter(pk__in=[link.ticket_id for link in links])
            .values_list("pk", flat=True)
        )
        # Only the orders this user may see are listed; the count says how many there are.
        shown = [link for link in links if link.ticket_id in visible]
        return ChildSerializer(shown, many=True).data

    @extend_schema_field(AuditSerializer(many=True))
    def get_audit(self, fault):
        return AuditSerializer(fault.audit.select_related("actor"), many=True).data


class ChildOutcomeSerializer(serializers.Serializer):
    number = serializers.CharField()
    done = serializers.BooleanField()
    state = serializers.CharField()
    message = serializers.CharField()


class FaultActionSerializer(FaultDetailSerializer):
    result = ChildOutcomeSerializer(many=True, required=False)


class ConfirmSerializer(serializers.Serializer):
    department = SafePrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    eta = serializers.DateTimeField(required=False, allow_null=True)
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)


class FaultReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


class LinkSerializer(serializers.Serializer):
    tickets = serializers.ListField(
        child=serializers.CharField(max_length=16), min_length=1, max_length=500
    )


class UnlinkSerializer(serializers.Serializer):
    ticket = serializers.CharField(max_length=16)
    reason = serializers.CharField(max_length=500, allow_blank=True)


class EtaSerializer(serializers.Serializer):
    eta = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ResolveSerializer(serializers.Serializer):
    public_reply = serializers.CharField(max_length=2000, allow_blank=True)
    cause = serializers.ChoiceField(choices=CauseCategory.choices, default=CauseCategory.NETWORK)


class EmptySerializer(serializers.Serializer):
    pass


# --------------------------------------------------------------------------- plumbing


def etag_of(fault: Fault) -> str:
    return f'"{fault.number}-v{fault.version}"'


def check_if_match(request, fault: Fault) -> None:
    header = request.headers.get("If-Match")
    if not header:
        return
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in tags:
        return
    current = etag_of(fault)
    if current not in tags and f"W/{current}" not in tags:
        raise Stale(_("群障已被更新，您看到的版本已过期，请刷新后重试。"))


def get_fault(request, number: str, *, lock: bool = False) -> Fault:
    """The fault by number if the user may see it, else 404 (never 403: no probing)."""
    if len(number) > 16:
        raise NotFound()
    qs = faults_visible_to(request.user).select_related("category", "department")
    if lock and connection.features.has_select_for_update:
        qs = qs.select_for_update(of=("self",))
    fault = qs.filter(number=number.upper()).first()
    if fault is None:
        raise NotFound()
    return fault


def detail_response(request, fault: Fault, *, status=200, result=None) -> Response:
    fresh = (
        Fault.objects.select_related("category__parent", "department").get(pk=fault.pk)
        if fault.pk
        else fault
    )
    data = FaultDetailSerializer(fresh, context={"request": request}).data
    if result is not None:
        data["result"] = [c.as_dict() for c in result]
    return Response(data, status=status, headers={"ETag": etag_of(fresh)})


def _visible_tickets(user, numbers: list[str], field: str):
    numbers = [n.strip().upper() for n in numbers if n.strip()]
    found = {t.number: t for t in tickets_visible_to(user).filter(number__in=numbers)}
    missing = [n for n in numbers if n not in found]
    if missing:
        raise Invalid(
            fields={field: [_("工单 %(number)s 不存在。") % {"number": n} for n in missing]}
        )
    return [found[n] for n in dict.fromkeys(numbers)]


# --------------------------------------------------------------------------- views


class FaultList(GenericAPIView):
    """Faults the user may see, newest detection first (`?state=` to filter)."""

    serializer_class = FaultSerializer
    pagination_class = KeysetPagination
    keyset_default = "-detected"
    keyset_orderings = {
        "-detected": [Key("detected_at", desc=True), Key("id", desc=True)],
        "detected": [Key("detected_at"), Key("id")],
    }

    def get_queryset(self):
        return faults_visible_to(self.request.user).select_related("category__parent", "department")

    @extend_schema(
        operation_id="faults_list",
        tags=["faults"],
        responses={200: FaultSerializer(many=True)},
        parameters=[
            OpenApiParameter("state", str, enum=FaultState.values, required=False),
            OpenApiParameter("category", int, required=False),
        ],
    )
    def get(self, request):
        qs = self.get_queryset()
        state = request.query_params.get("state")
        if state:
            if state not in FaultState.values:
                raise Invalid(fields={"state": [_("状态无效。")]})
            qs = qs.filter(state=state)
        category = request.query_params.get("category")
        if category:
            if not category.isdigit():
                raise Invalid(fields={"category": [_("分类无效。")]})
            qs = qs.filter(category_id=int(category))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class FaultDetail(GenericAPIView):
    serializer_class = FaultDetailSerializer

    @extend_schema(operation_id="faults_retrieve", tags=["faults"], parameters=[NUMBER_PARAM])
    def get(self, request, number):
        return detail_response(request, get_fault(request, number))


def _confirm(request, fault, d):
    outcome = services.fault_confirm(
        fault=fault,
        by=request.user,
        department=d.get("department"),
        eta=d.get("eta"),
        message=d.get("message", ""),
    )
    return outcome.fault, outcome.children


def _resolve(request, fault, d):
    outcome = services.fault_resolve(
        fault=fault, by=request.user, public_reply=d["public_reply"], cause=d["cause"]
    )
    return outcome.fault, outcome.children


def _unlink(request, fault, d):
    (ticket,) = _visible_tickets(request.user, [d["ticket"]], "ticket")
    return (
        services.fault_unlink(fault=fault, ticket=ticket, by=request.user, reason=d["reason"]),
        None,
    )


ACTIONS = {
    "confirm": (
        ConfirmSerializer,
        "确认: the fault is real; every child waiting for dispatch goes to its department "
        "(default: the category's). An ETA given here is told to the customers.",
        _confirm,
    ),
    "dismiss": (
        FaultReasonSerializer,
        "排除: not a mass fault (reason required); its orders are released and not suggested "
        "together again.",
        lambda r, f, d: (
            services.fault_dismiss(fault=f, by=r.user, reason=d["reason"]),
            None,
        ),
    ),
    "link": (
        LinkSerializer,
        "关联: order numbers of the same category group, still open; all or nothing.",
        lambda r, f, d: (
            services.fault_link(
                fault=f, tickets=_visible_tickets(r.user, d["tickets"], "tickets"), by=r.user
            ),
            None,
        ),
    ),
    "unlink": (UnlinkSerializer, "解除关联: one order, with a reason.", _unlink),
    "eta": (
        EtaSerializer,
        "预计恢复时间 and the customer message of a confirmed fault; each change is told once "
        "to the customer of every open linked order.",
        lambda r, f, d: (
            services.fault_set_eta(fault=f, by=r.user, eta=d["eta"], message=d.get("message", "")),
            None,
        ),
    ),
    "resolve": (
        ResolveSerializer,
        "恢复: one public reply; each open child gets its own reply. `result` lists what "
        "happened to each child (those that could not be replied to, and why).",
        _resolve,
    ),
    "close": (
        EmptySerializer,
        "关闭: a resolved fault is done.",
        lambda r, f, d: (services.fault_close(fault=f, by=r.user), None),
    ),
}


class FaultActionView(GenericAPIView):
    name = ""

    def post(self, request, number):
        serializer_class, _doc, run = ACTIONS[self.name]

        def write():
            fault = get_fault(request, number, lock=True)
            check_if_match(request, fault)
            form = serializer_class(data=request.data)
            form.is_valid(raise_exception=True)
            fault, result = run(request, fault, form.validated_data)
            return detail_response(request, fault, result=result)

        return idempotent(request, write)


def action_view(name: str):
    serializer_class, doc, _run = ACTIONS[name]
    view = type(
        f"FaultAction_{name}",
        (FaultActionView,),
        {"name": name, "serializer_class": serializer_class, "__doc__": doc},
    )

    def post(self, request, number):
        return FaultActionView.post(self, request, number)

    view.post = extend_schema(
        operation_id=f"faults_{name}",
        tags=["faults"],
        summary=name,
        description=doc,
        parameters=[NUMBER_PARAM, IF_MATCH_PARAM, IDEMPOTENCY_PARAM],
        request=serializer_class,
        responses={200: FaultActionSerializer},
    )(post)
    return view
