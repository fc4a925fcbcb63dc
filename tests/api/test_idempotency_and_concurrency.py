"""Idempotency-Key on create and on transitions; ETag / If-Match; racing transitions."""

import threading

import pytest
from django.db import connection

from tests.api.conftest import client_for
from tests.conftest import requires_postgres
from tests.factories import Cast, ticket_in_state
from workorders.models import AuditEntry, Ticket


def report_body(cast, **kw):
    return {
        "category": cast.category.pk,
        "customer_phone": "13811112222",
        "description": "营业厅排队太久",
        **kw,
    }


def test_same_create_sent_five_times_makes_one_order(cast, api):
    client = api("frontline")
    numbers = set()
    statuses = []
    for _ in range(5):
        r = client.post(
            "/api/v1/tickets/", report_body(cast), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        statuses.append(r.status_code)
        numbers.add(r.json()["number"])
    assert statuses == [201] * 5
    assert len(numbers) == 1
    assert Ticket.objects.count() == 1
    r = client.post(
        "/api/v1/tickets/", report_body(cast), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert r.headers["Idempotent-Replayed"] == "true"


def test_same_key_other_body_is_422(cast, api):
    client = api("frontline")
    client.post("/api/v1/tickets/", report_body(cast), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    r = client.post(
        "/api/v1/tickets/",
        report_body(cast, description="另一件事"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_mismatch"
    assert Ticket.objects.count() == 1


def test_without_a_key_each_create_is_a_new_order(cast, api):
    client = api("frontline")
    for _ in range(2):
        assert client.post("/api/v1/tickets/", report_body(cast), format="json").status_code == 201
    assert Ticket.objects.count() == 2


def test_transition_with_a_key_replays_instead_of_acting_twice(cast, api):
    t = ticket_in_state(cast, "reported")
    client = api("dispatcher")
    url = f"/api/v1/tickets/{t.number}/transitions/dispatch/"
    body = {"department": cast.network.pk}
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert AuditEntry.objects.filter(ticket=t, transition="dispatch").count() == 1
    other = client.post(
        url, {"department": cast.business.pk}, format="json", HTTP_IDEMPOTENCY_KEY="d-1"
    )
    assert other.status_code == 422
    # Without the key, the second dispatch is refused by the state.
    assert client.post(url, body, format="json").status_code == 409


def test_a_refused_transition_does_not_use_up_the_key(cast, api):
    t = ticket_in_state(cast, "reported")
    url = f"/api/v1/tickets/{t.number}/transitions/cancel/"
    client = api("dispatcher")
    r = client.post(url, {"reason": ""}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert r.status_code == 400
    r = client.post(url, {"reason": ""}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert r.status_code == 400 and "Idempotent-Replayed" not in r.headers


def test_bad_idempotency_key_is_400(cast, api):
    r = api("frontline").post(
        "/api/v1/tickets/", report_body(cast), format="json", HTTP_IDEMPOTENCY_KEY="x" * 101
    )
    assert r.status_code == 400
    assert "Idempotency-Key" in r.json()["error"]["fields"]


def test_detail_carries_an_etag_that_changes_with_the_order(cast, api):
    t = ticket_in_state(cast, "reported")
    client = api("dispatcher")
    etag = client.get(f"/api/v1/tickets/{t.number}/").headers["ETag"]
    client.post(
        f"/api/v1/tickets/{t.number}/transitions/dispatch/",
        {"department": cast.network.pk},
        format="json",
    )
    assert client.get(f"/api/v1/tickets/{t.number}/").headers["ETag"] != etag


def test_stale_if_match_is_412_and_changes_nothing(cast, api):
    t = ticket_in_state(cast, "dispatched")
    lead, handler = api("lead"), api("handler")
    seen = lead.get(f"/api/v1/tickets/{t.number}/").headers["ETag"]
    # Someone else acts first.
    r = handler.post(f"/api/v1/tickets/{t.number}/transitions/claim/", {}, format="json")
    assert r.status_code == 200
    r = lead.post(
        f"/api/v1/tickets/{t.number}/transitions/request_return/",
        {"reason": "不是我们的"},
        format="json",
        HTTP_IF_MATCH=seen,
    )
    assert r.status_code == 412
    assert r.json()["error"]["code"] == "stale"
    t.refresh_from_db()
    assert t.state == "accepted"
    # PATCH honours If-Match too.
    r = api("dispatcher").patch(
        f"/api/v1/tickets/{t.number}/",
        {"urgency": "urgent", "urgency_reason": "客户投诉升级"},
        format="json",
        HTTP_IF_MATCH=seen,
    )
    assert r.status_code == 412


def test_current_if_match_goes_through(cast, api):
    t = ticket_in_state(cast, "dispatched")
    lead = api("lead")
    etag = lead.get(f"/api/v1/tickets/{t.number}/").headers["ETag"]
    r = lead.post(
        f"/api/v1/tickets/{t.number}/transitions/claim/", {}, format="json", HTTP_IF_MATCH=etag
    )
    assert r.status_code == 200
    assert r.headers["ETag"] != etag


def test_second_of_two_clients_racing_a_transition_gets_409(cast, api):
    t = ticket_in_state(cast, "dispatched")
    url = f"/api/v1/tickets/{t.number}/transitions/claim/"
    lead, handler = api("lead"), api("handler")
    assert lead.post(url, {}, format="json").status_code == 200
    r = handler.post(url, {}, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invalid_state"
    assert AuditEntry.objects.filter(ticket=t, transition="claim").count() == 1


def _run_concurrently(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_creates_with_one_key_make_one_order(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cast = Cast()
    body = report_body(cast)
    clients = [client_for(cast.frontline) for _ in range(5)]
    results = _run_concurrently(
        [
            lambda c=c: c.post("/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="p")
            for c in clients
        ]
    )
    assert [r.status_code for r in results] == [201] * 5, [r.content for r in results]
    numbers = {r.json()["number"] for r in results if r.status_code == 201}
    assert len(numbers) == 1
    assert Ticket.objects.count() == 1


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_clients_racing_a_claim_one_wins_one_409(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cast = Cast()
    t = ticket_in_state(cast, "dispatched")
    url = f"/api/v1/tickets/{t.number}/transitions/claim/"
    clients = [client_for(cast.lead), client_for(cast.handler)]
    results = _run_concurrently([lambda c=c: c.post(url, {}, format="json") for c in clients])
    assert sorted(r.status_code for r in results) == [200, 409]
    assert AuditEntry.objects.filter(ticket=t, transition="claim").count() == 1
