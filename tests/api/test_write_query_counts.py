"""A create and a transition cost a fixed number of queries, whatever the number of orders
already in the table: no statement reads or locks more as the table grows."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import access
from tests.conftest import is_postgres
from tests.factories import report, ticket_in_state
from workorders import services

# The create (25 before): token and user with department; the category; the day's number (and on
# PostgreSQL the order's id); the repeat look-up; the clocks; the order; the audit row; the
# risk score's rules and redo check; the customer's status link and text (opt-out, template,
# a waiting text to fold into, the text); the reporter's category roll-up; the response (the
# order, its clocks, its co-handling departments). SQLite cannot know the order's id before
# inserting it and links the promise clock with one more UPDATE. Two savepoint statements:
# the test runs inside a transaction. Then 9 for the KPI daily roll-up kept in the same
# transaction (the order's stored share read and locked, its KPI sources, the cells' upsert).
ROLLUP_QUERIES = 9
CREATE_QUERIES = (20 if is_postgres() else 21) + ROLLUP_QUERIES
# The dispatch (31 before, counted the same way): token; the order visible to the user and
# its row lock; the department; the guarded update; the audit row; risk; notifications; the
# customer's text; the clocks; the response. Then the department's auto-assign rule, and the
# KPI roll-up (its share, sources and upsert, plus the department's cells).
DISPATCH_QUERIES = 39


def _more_orders(cast, n: int, start: int) -> None:
    """Other orders: other customers, states and reporters."""
    for i in range(start, start + n):
        t = report(cast, phone=f"139{i:08d}", by=cast.other_frontline if i % 2 else None)
        if i % 3 == 0:
            services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)


def _create(client, cast, i: int):
    body = {"category": cast.category.pk, "customer_phone": f"137{i:08d}", "description": "断网"}
    r = client.post("/api/v1/tickets/", body, format="json")
    assert r.status_code == 201, r.content
    return r.json()["number"]


def _count(fn) -> int:
    # The cast's rights were written in this test's transaction; in production they were
    # committed long ago and every process keeps a copy (accounts.access).
    access.clear()
    fn()  # warm the per-process copies once
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_a_create_costs_the_same_queries_with_few_and_many_orders(cast, api):
    client = api("frontline")
    seq = iter(range(100))
    few = _count(lambda: _create(client, cast, next(seq)))
    _more_orders(cast, 40, start=1000)
    many = _count(lambda: _create(client, cast, next(seq)))
    assert few == many == CREATE_QUERIES


def test_a_create_through_the_service_is_few_round_trips(cast, django_assert_num_queries):
    report(cast, phone="13700000001")
    access.clear()
    report(cast, phone="13700000002")
    # Number (and id), repeat, clocks, order, (SQLite: promise link), audit, risk rules,
    # redo check, status link, opt-out, template, waiting text, text, roll-up, 2 savepoints;
    # the KPI daily roll-up.
    with django_assert_num_queries((15 if is_postgres() else 16) + ROLLUP_QUERIES):
        report(cast, phone="13700000003")


def test_a_transition_costs_the_same_queries_with_few_and_many_orders(cast, api):
    client = api("dispatcher")

    def dispatch():
        number = next(orders).number
        r = client.post(
            f"/api/v1/tickets/{number}/transitions/dispatch/",
            {"department": cast.network.pk},
            format="json",
        )
        assert r.status_code == 200, r.content

    orders = iter([ticket_in_state(cast, "reported", phone=f"136{i:08d}") for i in range(4)])
    few = _count(dispatch)
    _more_orders(cast, 40, start=2000)
    many = _count(dispatch)
    assert few == many == DISPATCH_QUERIES
