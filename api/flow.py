"""The dispatcher's and the department's working day over the API: correcting an order's
category and the reply templates that match an order. Thin: parse, call the domain, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from workorders import services

from . import serializers as s
from .common import get_ticket, if_match_version, ticket_detail_response
from .views import IF_MATCH_PARAM, NUMBER_PARAM


class CorrectCategorySerializer(serializers.Serializer):
    category = s.CategoryRefField()
    reason = serializers.CharField(max_length=500, allow_blank=True)


class CorrectCategoryView(GenericAPIView):
    serializer_class = CorrectCategorySerializer

    @extend_schema(
        operation_id="tickets_correct_category",
        tags=["records"],
        parameters=[NUMBER_PARAM, IF_MATCH_PARAM],
        request=CorrectCategorySerializer,
        responses={200: s.TicketDetailSerializer},
        description="更正分类: a dispatcher (or the lead of the order's department, open orders "
        "only) corrects the category, with a reason. Reports count the order under the new "
        "category; running clocks are re-targeted under the rules for it.",
    )
    def post(self, request, number):
        form = CorrectCategorySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ticket = get_ticket(request, number)
        services.ticket_correct_category(
            ticket=ticket,
            by=request.user,
            category=form.validated_data["category"],
            reason=form.validated_data["reason"],
            expected_version=if_match_version(request, ticket),
        )
        return ticket_detail_response(request, ticket)
