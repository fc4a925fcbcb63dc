"""GET /api/v1/reports/kpis/ and /api/v1/exports/…: figures with numerators and denominators,
the same scoping and permission as the page, error bodies in one shape."""

import csv
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reports.models import ExportLog

pytestmark = pytest.mark.django_db

WEEK = {"period": "custom", "start": "2026-11-02", "end": "2026-11-08"}


@pytest.fixture
def api():
    return APIClient()


def test_kpis_total_and_grouped_by_department(world, cast, api):
    api.force_authenticate(cast.auditor)
    resp = api.get("/api/v1/reports/kpis/", {**WEEK, "group_by": "department"})
    assert resp.status_code == 200
    body = resp.json()
    closure = body["total"]["figures"]["on_time_closure"]
    assert (closure["numerator"], closure["denominator"], closure["rate"]) == (4, 6, 66.7)
    assert body["total"]["figures"]["received"]["denominator"] is None
    assert body["total"]["net_handling_hours"]["p90"] == 60.0
    assert body["previous"]["start"] == "2026-10-26"
    groups = {g["label"]: g for g in body["groups"]}
    net = groups["网络保障"]["figures"]["on_time_closure"]
    assert (net["numerator"], net["denominator"], net["rate"]) == (4, 5, 80.0)


def test_kpis_grouped_by_week_with_token_auth(world, cast, api):
    token = Token.objects.create(user=cast.supervisor)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    params = {"period": "custom", "start": "2026-11-02", "end": "2026-11-15", "group_by": "week"}
    body = api.get("/api/v1/reports/kpis/", params).json()
    assert [g["key"] for g in body["groups"]] == ["2026-11-02", "2026-11-09"]
    assert [g["figures"]["received"]["numerator"] for g in body["groups"]] == [8, 1]


def test_kpis_scoped_for_a_lead(world, cast, api):
    api.force_authenticate(cast.other_lead)
    body = api.get("/api/v1/reports/kpis/", WEEK).json()
    assert body["total"]["figures"]["received"]["numerator"] == 1


def test_frontline_refused_with_error_shape(cast, api):
    api.force_authenticate(cast.frontline)
    resp = api.get("/api/v1/reports/kpis/", WEEK)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"
    resp = api.get("/api/v1/exports/tickets.csv", WEEK)
    assert resp.status_code == 403
    assert set(resp.json()["error"]) == {"code", "message", "fields"}


def test_anonymous_refused(api):
    resp = api.get("/api/v1/reports/kpis/", WEEK)
    assert resp.status_code in (401, 403)
    assert "error" in resp.json()


def test_bad_filters_are_400_with_fields(cast, api):
    api.force_authenticate(cast.auditor)
    resp = api.get("/api/v1/reports/kpis/", {"period": "custom", "start": "2026-11-09"})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "invalid" and "start" in err["fields"]
    resp = api.get("/api/v1/reports/kpis/", {"group_by": "colour"})
    assert resp.status_code == 400 and "group_by" in resp.json()["error"]["fields"]


def test_export_csv_and_xlsx(world, cast, api):
    api.force_authenticate(cast.auditor)
    resp = api.get("/api/v1/exports/tickets.csv", WEEK, HTTP_ACCEPT="text/csv")
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 9
    resp = api.get("/api/v1/exports/transitions.xlsx", WEEK)
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content)[:2] == b"PK"
    assert ExportLog.objects.count() == 2
    assert api.get("/api/v1/exports/tickets.pdf", WEEK).status_code == 404
