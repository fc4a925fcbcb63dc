"""Malformed input is a 4xx in the interface's own shape, never a 500: NUL bytes in paths and
filters, JSON nested 50,000 deep, report periods at the ends of the calendar (reliability issue
§8). Each input is sent literally, over the test client, on SQLite and on PostgreSQL (which
refuses NUL in a text parameter where SQLite does not)."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.test import Client

from tests.api.conftest import client_for
from tests.factories import ticket_in_state
from workorders.selectors import ticket_get_visible

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/workorders/ticket/"


def logged_in(user, lang: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(user)
    return client


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    return body["error"]


# --------------------------------------------------------------------------- NUL bytes


def test_api_detail_with_a_nul_in_the_number_is_a_json_400(cast):
    ticket_in_state(cast, "dispatched")

    response = client_for(cast.dispatcher).get("/api/v1/tickets/GD%00/")

    error = assert_json_error(response, 400, "bad_request")
    assert error["message"] == "请求无效。"


def test_api_nul_error_is_in_the_requests_language(cast):
    response = client_for(cast.dispatcher, lang="en").get("/api/v1/tickets/GD%00/")

    assert assert_json_error(response, 400, "bad_request")["message"] == "Bad request."


def test_phone_order_page_with_a_nul_is_the_400_page(cast):
    response = logged_in(cast.frontline).get("/orders/%00/")

    assert response.status_code == 400
    html = response.content.decode()
    assert "请求无效" in html and "<html" in html


def test_phone_400_page_in_english_when_asked(cast):
    response = logged_in(cast.frontline, "en").get("/orders/%00/")

    assert response.status_code == 400
    assert "Bad request" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "state__exact=%00",  # the input
        "urgency__exact=%00",  # another field filter
        "sla=%00",  # one of the back office's own filters
        "handler=%00",
        "q=%00",  # the search box
        "state__exact=dispatched%00",
    ],
)
def test_admin_changelist_filter_with_a_nul_is_a_400(cast, query):
    ticket_in_state(cast, "dispatched")

    response = logged_in(cast.dispatcher).get(f"{CHANGELIST}?{query}")

    assert response.status_code == 400
    assert "请求无效" in response.content.decode()


def test_the_order_lookup_itself_refuses_a_nul_without_asking_the_database(
    cast, django_assert_num_queries
):
    # Behind the middleware, the one lookup by number stays safe for any other caller.
    with django_assert_num_queries(0), pytest.raises(Http404):
        ticket_get_visible(cast.dispatcher, "GD\x00")


def test_a_plain_unknown_number_is_still_a_404(cast):
    response = client_for(cast.dispatcher).get("/api/v1/tickets/GD00/")

    assert_json_error(response, 404, "not_found")


# --------------------------------------------------------------------------- deep JSON


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [50_000, 40])
def test_deeply_nested_json_report_is_a_json_400(cast, levels):
    response = client_for(cast.frontline).post(
        "/api/v1/tickets/", deep_json(levels), content_type="application/json"
    )

    assert_json_error(response, 400, "parse_error")


def test_deeply_nested_json_comment_is_a_json_400(cast):
    t = ticket_in_state(cast, "dispatched")

    response = client_for(cast.dispatcher).post(
        f"/api/v1/tickets/{t.number}/comments/",
        '{"body": ' + deep_json(50_000) + "}",
        content_type="application/json",
    )

    assert_json_error(response, 400, "parse_error")
    assert t.comments.count() == 0


def test_ordinary_json_still_parses(cast):
    t = ticket_in_state(cast, "dispatched")

    response = client_for(cast.dispatcher).post(
        f"/api/v1/tickets/{t.number}/comments/", {"body": "已联系客户"}, format="json"
    )

    assert response.status_code == 201, response.content


# --------------------------------------------------------------------------- out-of-range dates

PERIODS = {
    "9999": "period=custom&start=9999-12-01&end=9999-12-31",
    "0001": "period=custom&start=0001-01-01&end=0001-01-31",
}


@pytest.mark.parametrize("year", PERIODS)
@pytest.mark.parametrize("path", ["/reports/", "/reports/orders/", "/reports/export/tickets.csv"])
def test_report_pages_with_a_period_at_the_end_of_the_calendar_are_a_400_form_error(
    cast, year, path
):
    response = logged_in(cast.auditor).get(f"{path}?{PERIODS[year]}")

    assert response.status_code == 400
    html = response.content.decode()
    assert "日期须在 2000-01-01 至 2099-12-31 之间。" in html


def test_report_page_date_error_in_english(cast):
    response = logged_in(cast.auditor, "en").get(f"/reports/?{PERIODS['9999']}")

    assert response.status_code == 400
    assert "Dates must be between 2000-01-01 and 2099-12-31." in response.content.decode()


@pytest.mark.parametrize("year", PERIODS)
@pytest.mark.parametrize(
    "path",
    ["/api/v1/exports/tickets.csv", "/api/v1/exports/transitions.xlsx", "/api/v1/reports/kpis/"],
)
def test_export_and_kpi_api_with_a_period_at_the_end_of_the_calendar_are_a_json_400(
    cast, year, path
):
    response = client_for(cast.auditor).get(f"{path}?{PERIODS[year]}")

    error = assert_json_error(response, 400, "invalid")
    assert set(error["fields"]) == {"start", "end"}


def test_report_period_inside_the_range_still_works(cast):
    response = logged_in(cast.auditor).get(
        "/reports/?period=custom&start=2000-01-01&end=2000-01-31"
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "query", ["reported_after=0001-01-01T00:00:00", "reported_before=9999-12-31T23:59:59"]
)
def test_api_time_filters_at_the_end_of_the_calendar_are_a_json_400(cast, query):
    response = client_for(cast.dispatcher).get(f"/api/v1/tickets/?{query}")

    error = assert_json_error(response, 400, "invalid")
    assert list(error["fields"]) == [query.split("=")[0]]


@pytest.mark.parametrize(
    "query",
    [
        "reported_at__year=9999",
        "reported_at__year=9999&reported_at__month=12",
        "reported_at__year=9999&reported_at__month=12&reported_at__day=31",
    ],
)
def test_admin_date_drilldown_past_the_calendar_is_a_400(cast, query):
    response = logged_in(cast.dispatcher).get(f"{CHANGELIST}?{query}")

    assert response.status_code == 400


def test_the_api_order_lookup_refuses_a_nul_without_asking_the_database(
    cast, django_assert_num_queries
):
    from rest_framework.exceptions import NotFound
    from rest_framework.test import APIRequestFactory

    from api.common import get_ticket

    request = APIRequestFactory().get("/")
    request.user = cast.dispatcher
    with django_assert_num_queries(0), pytest.raises(NotFound):
        get_ticket(request, "GD\x00")
