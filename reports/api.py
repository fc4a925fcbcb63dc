"""API: KPI figures and exports. Plain DRF views (session or token auth); our own 400/403
bodies have the shape {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from workorders.errors import DomainError
from workorders.permissions import can_view_reports

from . import kpis, services
from .filters import ReportFilterForm, parse_filters
from .models import ExportFormat, ExportKind
from .routing import on_replica


def error(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response(
        {"error": {"code": code, "message": str(message), "fields": fields or {}}}, status=status
    )


# --------------------------------------------------------------------------- OpenAPI


class FigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField(allow_null=True)
    rate = serializers.FloatField(allow_null=True, help_text="Percent, one decimal")


class NetHoursSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()


class KpiRowSerializer(serializers.Serializer):
    key = serializers.JSONField(allow_null=True, help_text="Group key (id, text or date)")
    label = serializers.CharField(allow_blank=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    figures = serializers.DictField(child=FigureSerializer())
    net_handling_hours = NetHoursSerializer()


class PeriodSerializer(serializers.Serializer):
    kind = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()


class PreviousSerializer(KpiRowSerializer):
    start = serializers.DateField()
    end = serializers.DateField()


class KpiResponseSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = serializers.DictField()
    group_by = serializers.CharField(allow_null=True)
    total = KpiRowSerializer()
    previous = PreviousSerializer()
    groups = KpiRowSerializer(many=True)


# Notes for the schema; names, types and allowed values come from the report's filter form.
FILTER_NOTES = {
    "period": "Default: month (this calendar month, Asia/Shanghai)",
    "start": "With period=custom",
    "end": "With period=custom",
    "department": "Department id (with its subtree)",
    "dept_exact": "Only the department itself",
}


def filter_parameter(name: str) -> OpenApiParameter:
    """The query parameter of one field of `ReportFilterForm`, as the form parses it."""
    field = ReportFilterForm.base_fields[name]
    kind, enum = str, None
    if isinstance(field, forms.ModelChoiceField):
        kind = int
    elif isinstance(field, forms.ChoiceField):
        enum = [value for value, _label in field.choices if value]
    elif isinstance(field, forms.DateField):
        kind = OpenApiTypes.DATE
    elif isinstance(field, forms.BooleanField):
        kind = bool
    return OpenApiParameter(name, kind, enum=enum, description=FILTER_NOTES.get(name, ""))


# Every filter a person sets on the report page (the hidden drill-down fields and the grouping
# are not filters).
FILTER_PARAMETERS = [
    filter_parameter(name)
    for name, field in ReportFilterForm.base_fields.items()
    if name != "group_by" and not isinstance(field.widget, forms.HiddenInput)
]


class ReportsAPIView(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # Errors are always JSON, whatever the client accepts (text/csv for an export).
        return super().perform_content_negotiation(request, force=True)

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            resp = error(401, "not_authenticated", exc.detail)
            for header in (self.get_authenticate_header(self.request) or "",):
                if header:
                    resp["WWW-Authenticate"] = header
            return resp
        if isinstance(exc, exceptions.PermissionDenied):
            return error(403, "forbidden", exc.detail)
        if isinstance(exc, DomainError):
            return error(exc.http_status, exc.code, exc.message, exc.fields)
        return super().handle_exception(exc)

    def filters_or_error(self, request):
        filters, form = parse_filters(request.query_params, now=timezone.now())
        if filters is None:
            fields = {k: [str(m) for m in v] for k, v in form.errors.items()}
            return None, error(400, "invalid", _("筛选条件有误。"), fields)
        return filters, None


class KpiView(ReportsAPIView):
    """GET /api/v1/reports/kpis/?period=week&department=3&group_by=department"""

    @extend_schema(
        operation_id="reports_kpis",
        tags=["reports"],
        parameters=[
            *FILTER_PARAMETERS,
            filter_parameter("group_by"),
        ],
        responses={200: KpiResponseSerializer},
    )
    @method_decorator(on_replica)
    def get(self, request):
        if not can_view_reports(request.user):
            return error(403, "forbidden", _("您没有查看报表的权限。"))
        filters, err = self.filters_or_error(request)
        if err:
            return err
        total = kpis.kpi_summary(user=request.user, period=filters.period, scope=filters.scope)
        previous = kpis.kpi_summary(
            user=request.user, period=filters.period.previous(), scope=filters.scope
        )
        body = {
            "period": {
                "kind": filters.period.kind,
                "start": filters.period.first_day.isoformat(),
                "end": filters.period.last_day.isoformat(),
            },
            "filters": filters.as_json(),
            "group_by": filters.group_by,
            "total": total.as_dict(),
            "previous": {
                "start": filters.period.previous().first_day.isoformat(),
                "end": filters.period.previous().last_day.isoformat(),
                **previous.as_dict(),
            },
            "groups": [],
        }
        if filters.group_by:
            body["groups"] = [
                r.as_dict()
                for r in kpis.kpi_rows(
                    user=request.user,
                    period=filters.period,
                    scope=filters.scope,
                    group_by=filters.group_by,
                )
            ]
        return Response(body)


class RegionRateSerializer(serializers.Serializer):
    region = serializers.CharField()
    regulator = serializers.IntegerField()
    subscribers = serializers.IntegerField()
    per_million = serializers.FloatField(allow_null=True)


class RegulatorRateSerializer(serializers.Serializer):
    period = PeriodSerializer()
    regulator = serializers.IntegerField(help_text="Regulator complaints reported in the period.")
    subscribers = serializers.IntegerField(help_text="Average monthly subscribers, all regions.")
    per_million = serializers.FloatField(allow_null=True, help_text="申诉率 (per million).")
    regions = RegionRateSerializer(many=True)


class RegulatorRateView(ReportsAPIView):
    """GET /api/v1/reports/regulator-rate/?period=month — 申诉率 per million subscribers."""

    @extend_schema(
        operation_id="reports_regulator_rate",
        tags=["reports"],
        parameters=FILTER_PARAMETERS,
        responses={200: RegulatorRateSerializer},
        description="申诉率: regulator complaints reported in the period per million "
        "subscribers (imported per region and month), overall and per region.",
    )
    @method_decorator(on_replica)
    def get(self, request):
        if not can_view_reports(request.user):
            return error(403, "forbidden", _("您没有查看报表的权限。"))
        filters, err = self.filters_or_error(request)
        if err:
            return err
        rate = kpis.regulator_rate(user=request.user, period=filters.period, scope=filters.scope)
        period = {
            "kind": filters.period.kind,
            "start": filters.period.first_day.isoformat(),
            "end": filters.period.last_day.isoformat(),
        }
        return Response(RegulatorRateSerializer({"period": period, **rate}).data)


class ExportView(ReportsAPIView):
    """GET /api/v1/exports/tickets.csv|.xlsx, /api/v1/exports/transitions.csv|.xlsx"""

    @extend_schema(
        operation_id="exports_download",
        tags=["reports"],
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=ExportKind.values),
            OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=ExportFormat.values),
            *FILTER_PARAMETERS,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV, UTF-8"),
            (200, services.XLSX_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="Excel workbook"
            ),
        },
    )
    @method_decorator(on_replica)
    def get(self, request, kind: str, fmt: str):
        filters, err = self.filters_or_error(request)
        if err:
            return err
        return services.export_start(user=request.user, filters=filters, kind=kind, fmt=fmt)
