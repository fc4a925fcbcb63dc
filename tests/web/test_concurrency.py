"""Never a duplicate: two submits of one report form at the same moment (a double tap that
the browser sent twice, or a retry racing the first try) make one order."""

import threading

import pytest
from django.db import connections

from tests.conftest import requires_postgres
from tests.web.conftest import login
from tests.web.test_report import URL, form_data
from workorders.models import Ticket


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_submits_of_one_form_make_one_order(cast):
    data = form_data(cast)
    clients = [login(cast.frontline), login(cast.frontline)]
    barrier = threading.Barrier(2)
    responses = []

    def submit(client):
        try:
            barrier.wait()
            responses.append(client.post(URL, data))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Ticket.objects.count() == 1
    number = Ticket.objects.get().number
    assert [r.status_code for r in responses] == [302, 302]
    assert {r.url for r in responses} == {f"/orders/{number}/"}


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_handlers_claiming_one_order_from_the_phone_one_wins(cast):
    """Both tap 签收 on the same row of 本部门待领 at once: one gets the order, the other is
    sent back to the list with the reason, and the order has one claim."""
    from django.urls import reverse

    from tests.factories import ticket_in_state, user_with
    from tests.race import run_at_once
    from workorders.models import State

    other = user_with("handler", department=cast.network, username="t_handler2")
    t = ticket_in_state(cast, State.DISPATCHED)
    url = reverse("web:order_claim", args=[t.number])
    data = {"version": t.version, "from": "queue"}
    clients = {cast.handler.pk: login(cast.handler), other.pk: login(other)}

    results, errors = run_at_once(
        [lambda c=c, pk=pk: (pk, c.post(url, data)) for pk, c in clients.items()]
    )
    assert errors == []
    t.refresh_from_db()
    assert t.state == State.ACCEPTED
    assert t.audit.filter(transition="claim").count() == 1
    by_user = {pk: r for pk, r in results}
    winner = by_user[t.handler_id]
    loser_pk = next(pk for pk in clients if pk != t.handler_id)
    loser = by_user[loser_pk]
    assert winner.url == reverse("web:order", args=[t.number])
    assert loser.url == reverse("web:staff_queue") + "?tab=department"
    # The page that was stale says so, and the order is no longer on the list.
    html = clients[loser_pk].get(loser.url).content.decode()
    assert "已过期" in html and t.number not in html
