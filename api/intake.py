"""Channel systems file orders (`POST /intake/`), and the hotline agent's screen looks up the
caller (`GET /customers/{phone}/`). Parse, call the service, render: the channel, idempotency,
category and phone rules are the services'."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from customers.services import customer_lookup, status_url_for
from workorders import services
from workorders.errors import Unprocessable

from . import serializers as s
from .common import get_ticket, if_match_version, ticket_detail_response
from .errors import _flatten
from .parsers import LimitedJSONParser
from .views import IF_MATCH_PARAM, NUMBER_PARAM


class IntakeView(GenericAPIView):
    serializer_class = s.IntakeSerializer
    parser_classes = [LimitedJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        operation_id="intake_create",
        tags=["intake"],
        request={
            "application/json": s.IntakeSerializer,
            "multipart/form-data": s.IntakeSerializer,
        },
        responses={201: s.IntakeResultSerializer, 200: s.IntakeResultSerializer},
        description="A channel system (service account with the `channel` role) files an "
        "order for its own channel. `external_id` is the channel's own id for the contact: "
        "the same id again returns the first order (200, `replayed: true`). Unknown category "
        "code, another channel or a phone that is not a mainland mobile or fixed line: 422.",
    )
    def post(self, request):
        data = request.data
        if hasattr(data, "getlist"):
            # Multipart: photos as repeated `attachments` parts.
            data = {k: data.get(k) for k in data if k != "attachments"}
            data["attachments"] = request.FILES.getlist("attachments")
        form = s.IntakeSerializer(data=data)
        if not form.is_valid():
            raise Unprocessable(fields=_flatten(form.errors))
        values = dict(form.validated_data)
        ticket = services.ticket_intake(
            by=request.user,
            external_id=values.pop("external_id"),
            category=values.pop("category"),
            customer_phone=values.pop("customer_phone"),
            description=values.pop("description"),
            channel=values.pop("channel", None),
            agent=values.pop("agent", ""),
            attachments=values.pop("attachments", []),
            **values,
        )
        result = {
            "number": ticket.number,
            "external_id": ticket.external_id,
            "channel": ticket.channel,
            "state": ticket.state,
            "status_url": status_url_for(ticket),
            "replayed": ticket.replayed,
        }
        return Response(
            s.IntakeResultSerializer(result).data, status=200 if ticket.replayed else 201
        )


class CustomerLookupView(GenericAPIView):
    serializer_class = s.CustomerLookupSerializer

    @extend_schema(
        operation_id="customers_lookup",
        tags=["intake"],
        parameters=[
            OpenApiParameter(
                "phone",
                str,
                OpenApiParameter.PATH,
                pattern=r"^[0-9][0-9 -]{6,18}$",
                description="Mainland mobile or fixed line, e.g. 13800138000, 0571-87654321; "
                "anything else is 422.",
            )
        ],
        description="The caller's open orders, orders of the last 30 days, repeat flag, last "
        "satisfaction and SMS opt-out, for a hotline agent's screen. Dispatchers, supervisors "
        "and the hotline's channel account; every look-up is recorded.",
    )
    def get(self, request, phone):
        found = customer_lookup(by=request.user, phone=phone)
        return Response(s.CustomerLookupSerializer(found).data)


# --------------------------------------------------------------------------- regulator track


class MarkRegulatorView(GenericAPIView):
    serializer_class = s.ReasonSerializer

    @extend_schema(
        operation_id="tickets_mark_regulator",
        tags=["transitions"],
        parameters=[NUMBER_PARAM, IF_MATCH_PARAM],
        responses={200: s.TicketDetailSerializer},
        description="Dispatcher or supervisor: mark an open order as a regulator complaint "
        "(申诉); the statutory clock starts now.",
    )
    def post(self, request, number):
        form = s.ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        services.ticket_mark_regulator(
            ticket=ticket,
            by=request.user,
            reason=form.validated_data["reason"],
            expected_version=if_match_version(request, ticket),
        )
        return ticket_detail_response(request, ticket)


class RegulatorSignoffView(GenericAPIView):
    serializer_class = s.DecisionSerializer

    @extend_schema(
        operation_id="tickets_regulator_signoff",
        tags=["transitions"],
        parameters=[NUMBER_PARAM, IF_MATCH_PARAM],
        responses={200: s.TicketDetailSerializer},
        description="Supervisor: sign off the reply of a regulator complaint; only then may "
        "it close.",
    )
    def post(self, request, number):
        form = s.DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        services.ticket_regulator_signoff(
            ticket=ticket,
            by=request.user,
            note=form.validated_data.get("note", ""),
            expected_version=if_match_version(request, ticket),
        )
        return ticket_detail_response(request, ticket)
