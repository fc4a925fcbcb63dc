"""While the database (or the broker) cannot be reached, the API answers its JSON error with
503 and Retry-After, and the pages a plain 503 page, instead of the HTML 500 page (reliability
issue §8). The database is really unreachable here: the connection is pointed at a closed port
(PostgreSQL) or an impossible file (SQLite), so the failure comes from the driver itself,
including during the token lookup that runs before the view."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connections
from django.test import Client
from kombu.exceptions import OperationalError as BrokerOperationalError

from tests.api.conftest import client_for
from tests.factories import ticket_in_state

# Real connections are closed and reopened: no test transaction may wrap them.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@contextmanager
def database_down():
    conn = connections["default"]
    saved = dict(conn.settings_dict)
    conn.close()
    if conn.vendor == "postgresql":
        conn.settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
    else:
        conn.settings_dict["NAME"] = "/nonexistent-whistle-dir/db.sqlite3"
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)


def assert_unavailable_json(response) -> dict:
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    return error


def test_the_probe_really_cuts_the_database(cast):
    from django.db import OperationalError, connection

    with database_down(), pytest.raises(OperationalError):
        connection.ensure_connection()
    connection.ensure_connection()  # and gives it back


def test_token_call_with_the_database_down_is_a_json_503(cast):
    api = client_for(cast.dispatcher)  # the token exists before the database goes

    with database_down():
        response = api.get("/api/v1/tickets/")

    error = assert_unavailable_json(response)
    assert error["message"] == "服务暂时不可用，请稍后再试。"


def test_json_503_is_in_the_requests_language(cast):
    api = client_for(cast.dispatcher, lang="en")

    with database_down():
        response = api.get("/api/v1/me/")

    error = assert_unavailable_json(response)
    assert error["message"] == "The service is temporarily unavailable. Please try again later."


def test_session_call_with_the_database_down_is_a_json_503(cast):
    browser = Client()
    browser.force_login(cast.dispatcher)

    with database_down():
        response = browser.get("/api/v1/tickets/", headers={"accept": "text/html"})

    # JSON even to a browser: the browsable page would ask the database for the user again.
    assert_unavailable_json(response)


def test_write_with_the_database_down_is_a_json_503(cast):
    t = ticket_in_state(cast, "dispatched")
    api = client_for(cast.dispatcher)

    with database_down():
        response = api.post(
            f"/api/v1/tickets/{t.number}/comments/", {"body": "已联系"}, format="json"
        )

    assert_unavailable_json(response)
    assert t.comments.count() == 0


def test_export_api_with_the_database_down_is_a_json_503(cast):
    api = client_for(cast.auditor)

    with database_down():
        response = api.get("/api/v1/exports/tickets.csv?period=today")

    assert_unavailable_json(response)


def test_phone_page_with_the_database_down_is_a_503_page(cast):
    phone = Client()
    phone.force_login(cast.frontline)

    with database_down():
        response = phone.get("/orders/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "服务暂时不可用" in response.content.decode()


def test_broker_down_while_a_view_enqueues_is_a_json_503(cast):
    t = ticket_in_state(cast, "dispatched")
    api = client_for(cast.dispatcher)
    refused = BrokerOperationalError("[Errno 111] Connection refused")

    with mock.patch("workorders.services.ticket_comment", side_effect=refused):
        response = api.post(
            f"/api/v1/tickets/{t.number}/comments/", {"body": "已联系"}, format="json"
        )

    assert_unavailable_json(response)
