"""The list costs the same number of queries for 10 and 100 orders; the detail a fixed number."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import report, ticket_in_state
from workorders import services


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries)


def _make_orders(cast, n, start=0):
    for i in range(start, start + n):
        t = report(cast, phone=f"139{i:08d}", star_level=5 if i % 3 == 0 else None)
        if i % 2:
            services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
        if i % 4 == 1:
            services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler)


def test_list_costs_the_same_for_10_and_100_orders(cast, api, django_assert_max_num_queries):
    client = api("lead")  # a scoped role: the visibility filter is in the query too
    url = "/api/v1/tickets/?page_size=100"
    client.get(url)  # warm the user's role and permission caches of this client's token
    _make_orders(cast, 10)
    with_10 = _queries(client, url)
    _make_orders(cast, 90, start=10)
    with_100 = _queries(client, url)
    assert with_10 == with_100
    with django_assert_max_num_queries(with_10):
        client.get(url)


def test_a_cursor_page_costs_a_bounded_number_of_queries(cast, api):
    client = api("dispatcher")
    _make_orders(cast, 30)
    first = client.get("/api/v1/tickets/?page_size=5").json()
    n = _queries(client, first["next"])
    # A few index range scans (tied keys first, then the rest), never one per row.
    assert n <= _queries(client, "/api/v1/tickets/?page_size=5") + 4


def test_a_cursor_page_inside_a_run_of_due_times_costs_what_page_one_costs(cast, api):
    """Past the cursor's tie (same urgency and priority, later due time) is one index range:
    the page in the middle of the queue is one query, like the first."""
    client = api("dispatcher")
    for i in range(12):
        report(cast, phone=f"139{i:08d}")  # general, not priority, distinct due times
    first = client.get("/api/v1/tickets/?page_size=5").json()
    assert _queries(client, first["next"]) == _queries(client, "/api/v1/tickets/?page_size=5")


def test_detail_costs_a_fixed_number_of_queries(cast, api):
    client = api("dispatcher")
    simple = ticket_in_state(cast, "accepted")
    # Same state, many more rows behind it: returns (several sign-for clocks), co-handling
    # departments, a repeat link, comments.
    busy = ticket_in_state(cast, "dispatched", phone="13900000001")
    for _ in range(3):
        services.ticket_request_return(ticket=busy, by=cast.lead, reason="非本部门")
        services.ticket_rule_return(ticket=busy, by=cast.dispatcher, uphold=False, comment="驳回")
    services.ticket_claim(ticket=busy, by=cast.lead, handler=cast.handler)
    services.ticket_request_cohandling(
        ticket=busy, by=cast.lead, departments=[cast.business, cast.channel]
    )
    for i in range(5):
        services.ticket_comment(ticket=busy, by=cast.dispatcher, body=f"备注{i}")
    client.get(f"/api/v1/tickets/{simple.number}/")  # warm per-user caches
    a = _queries(client, f"/api/v1/tickets/{simple.number}/")
    b = _queries(client, f"/api/v1/tickets/{busy.number}/")
    assert a == b
