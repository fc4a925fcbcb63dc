"""API: KPI figures and exports. Plain DRF views (session or token auth); our own 400/403
bodies have the shape {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import can_view_reports
from workorders.errors import DomainError

from . import kpis, services
from .filters import parse_filters


def error(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response(
        {"error": {"code": code, "message": str(message), "fields": fields or {}}}, status=status
    )


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


class ExportView(ReportsAPIView):
    """GET /api/v1/exports/tickets.csv|.xlsx, /api/v1/exports/transitions.csv|.xlsx"""

    def get(self, request, kind: str, fmt: str):
        filters, err = self.filters_or_error(request)
        if err:
            return err
        return services.export_start(user=request.user, filters=filters, kind=kind, fmt=fmt)
