"""A create and a transition cost a fixed number of queries, whatever the number of orders
already in the table: no statement reads or locks more as the table grows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import access
from tests.conftest import is_postgres
from tests.factories import report, ticket_in_state
from workorders import services

# The create (25 before, 29 with the KPI roll-up): token and user with department; the day's
# number (and on PostgreSQL the order's id); the repeat look-up; the clocks; the order; the
# audit row; the customer's status link and text (opt-out, the text); the reporter's category
# roll-up. A new order has no redo proposal for the risk score to look for and no waiting text
# to fold into (2 queries); the risk rules, the SMS templates and the categories with their
# routing departments come from per-process copies (accounts.copies: 3), and the response is
# written from the order in hand (it read the order, its clocks and its co-handling
# departments back: 3).
# SQLite cannot know the order's id before inserting it and links the promise clock with one
# more UPDATE. Two savepoint statements: the test runs inside a transaction. Then the KPI
# daily roll-up kept in the same transaction: the order's share inserted (a new order has none
# to lock and read) and the cells' upsert, one statement on PostgreSQL, two elsewhere. The
# share is computed from the order, clocks and audit row in hand (`reports.rollup._in_hand`);
# it ran the six KPI source queries (8 statements before).
ROLLUP_QUERIES = 1 if is_postgres() else 2
CREATE_QUERIES = (12 if is_postgres() else 13) + ROLLUP_QUERIES
# The dispatch (31 before, counted the same way): token; the order visible to the user and
# its row lock; the department; the guarded update; the audit row; risk; notifications; the
# customer's text; the clocks; the response. Then the department's auto-assign rule, and the
# KPI roll-up (its share, sources and upsert, plus the department's cells). 39 before the risk
# rules and SMS templates came from per-process copies.
DISPATCH_QUERIES = 37


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
    # Number (and id), repeat, clocks, order, (SQLite: promise link), audit, status link,
    # opt-out, text, roll-up, 2 savepoints; the KPI daily roll-up.
    with django_assert_num_queries((11 if is_postgres() else 12) + ROLLUP_QUERIES):
        report(cast, phone="13700000003")


def test_on_postgresql_a_create_runs_only_prepared_statements_once_warm(cast, api):
    """Parsed and planned once per session (accounts.statements), not on every report: after
    a first create, every statement of the next is an EXECUTE of a prepared statement, but
    the test's savepoints."""
    if not is_postgres():
        pytest.skip("prepared statements are PostgreSQL's; SQLite runs the same SQL plainly")
    client = api("frontline")
    seq = iter(range(100))
    _count(lambda: _create(client, cast, next(seq)))
    with CaptureQueriesContext(connection) as ctx:
        _create(client, cast, next(seq))
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) >= CREATE_QUERIES - 3  # the token may be read by the session
    assert [sql for sql in statements if not sql.startswith("EXECUTE w")] == []


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
