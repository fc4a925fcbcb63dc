"""The dispatcher's and the department's working day over the API: correcting an order's
category and the reply templates that match an order. Thin: parse, call the domain, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workorders import services
from workorders.models import ReplyTemplate
from workorders.selectors import reply_templates_for

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


class ReplyTemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    department = s.DepartmentBriefSerializer()
    category = s.CategoryBriefSerializer(allow_null=True)
    cause = serializers.CharField()
    cause_display = serializers.CharField(source="get_cause_display")
    result = serializers.CharField()
    public_reply = serializers.CharField()


class ReplyTemplatesView(GenericAPIView):
    serializer_class = ReplyTemplateSerializer
    queryset = ReplyTemplate.objects.none()  # the schema's; the view reads the selector

    @extend_schema(
        operation_id="tickets_reply_templates",
        tags=["records"],
        parameters=[
            NUMBER_PARAM,
            OpenApiParameter("cause", str, description="Only templates of this cause."),
        ],
        responses={200: ReplyTemplateSerializer(many=True)},
        description="回复模板 that match the order: its department's (or a line above it), for "
        "its category, the category's group or any category; the most specific first. Each "
        "fills the reply's cause, result and public reply.",
    )
    def get(self, request, number):
        ticket = get_ticket(request, number)
        cause = request.query_params.get("cause", "")[:16]
        templates = reply_templates_for(ticket, cause=cause).select_related(
            "department", "category__parent"
        )
        return Response(ReplyTemplateSerializer(templates, many=True).data)
