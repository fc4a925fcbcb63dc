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
