"""Searching a full phone number must not confirm it to a role that sees numbers masked
(reliability issue §6: an auditor could confirm a full number by searching it in the admin).

Roles with the right to see full numbers (dispatcher, lead, handler) search by the full number
or its last four digits. The others (auditor, supervisor) see 138****5678 and search by the last
four digits only: a longer number is searched by its last four, and the list says so. Their
result is then the same whatever the hidden digits are, so it confirms nothing they cannot read
on the masked number already."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import client_for
from tests.factories import report
from workorders import services
from workorders.models import Ticket
from workorders.permissions import can_see_full_phone
from workorders.selectors import tickets_matching_phone

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/workorders/ticket/"
REAL = "13812345678"
WRONG_MIDDLE = "13899995678"  # same last four digits, other hidden digits
OTHER_END = "13812341111"


@pytest.fixture
def orders(cast):
    return {
        "target": report(cast, phone=REAL, customer_name="王小明"),
        "same_end": report(cast, phone="13900005678", customer_name="李四"),
        "other": report(cast, phone="13700001111", customer_name="张三"),
    }


def admin_search(user, term: str):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    found = {t.number for t in response.context["cl"].result_list}
    messages = [str(m) for m in response.context["messages"]]
    return found, messages, response


@pytest.mark.parametrize("role", ["auditor", "supervisor"])
def test_masked_roles_cannot_confirm_a_full_number_in_the_admin(cast, orders, role):
    user = cast.by_role(role)
    assert not can_see_full_phone(user)

    real, real_messages, response = admin_search(user, REAL)
    wrong, _, _ = admin_search(user, WRONG_MIDDLE)

    # The same list for the right and the wrong middle digits: nothing confirmed.
    assert real == wrong == {orders["target"].number, orders["same_end"].number}
    assert real_messages == ["您的角色看不到客户的完整号码，已按后四位“5678”搜索。"]
    assert "客户电话后四位" in response.context["cl"].search_help_text


def test_masked_roles_still_search_by_the_last_four_digits(cast, orders):
    found, messages, _ = admin_search(cast.auditor, "5678")

    assert found == {orders["target"].number, orders["same_end"].number}
    assert messages == []


@pytest.mark.parametrize("role", ["dispatcher", "lead", "handler"])
def test_roles_that_see_full_numbers_search_by_the_exact_number(cast, orders, role):
    user = cast.by_role(role)
    # Leads and handlers see their line's orders: put these in it.
    for t in orders.values():
        services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)

    assert admin_search(user, REAL)[0] == {orders["target"].number}
    assert admin_search(user, WRONG_MIDDLE)[0] == set()
    assert admin_search(user, "138 1234 5678")[0] == {orders["target"].number}
    assert admin_search(user, REAL)[1] == []


def test_api_search_does_not_confirm_a_full_number_to_a_masked_role(cast, orders):
    api = client_for(cast.auditor)

    def found(q):
        response = api.get("/api/v1/tickets/", {"q": q})
        assert response.status_code == 200
        return {t["number"] for t in response.json()["results"]}

    assert found(REAL) == found(WRONG_MIDDLE) == found("5678")
    assert found(REAL) == {orders["target"].number, orders["same_end"].number}


def test_api_search_by_full_number_for_a_role_that_sees_it(cast, orders):
    api = client_for(cast.dispatcher)

    def found(q):
        return {t["number"] for t in api.get("/api/v1/tickets/", {"q": q}).json()["results"]}

    assert found(REAL) == {orders["target"].number}
    assert found(WRONG_MIDDLE) == set()


def test_the_reporter_searches_their_own_orders_by_the_full_number(cast, orders):
    # The frontline reporter typed the number and sees it in full on their own orders.
    qs = Ticket.objects.filter(reporter=cast.frontline)

    assert set(tickets_matching_phone(cast.frontline, REAL, qs)) == {orders["target"]}
    assert set(tickets_matching_phone(cast.frontline, WRONG_MIDDLE, qs)) == set()
    assert set(tickets_matching_phone(cast.frontline, OTHER_END, qs)) == set()
