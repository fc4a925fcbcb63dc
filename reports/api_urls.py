"""Mounted at /api/v1/ before the api app's own routes."""

from django.urls import path, re_path

from . import api

urlpatterns = [
    path("reports/kpis/", api.KpiView.as_view(), name="reports-api-kpis"),
    path(
        "reports/regulator-rate/",
        api.RegulatorRateView.as_view(),
        name="reports-api-regulator-rate",
    ),
    re_path(
        r"^exports/(?P<kind>tickets|transitions)\.(?P<fmt>csv|xlsx)$",
        api.ExportView.as_view(),
        name="reports-api-export",
    ),
]
