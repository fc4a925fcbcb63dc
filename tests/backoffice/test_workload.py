"""处理人工作量: open orders and overdue orders per handler of a department, for leads (their
department) and dispatchers; a fixed number of queries however many handlers and orders."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ticket_in_state, user_with
from workorders import services
from workorders.models import AutoAssignRule, State

pytestmark = pytest.mark.django_db

URL = reverse("admin:workorders_ticket_workload")


def rows_of(response) -> dict[str, tuple[int, int]]:
    return {r["user"].username: (r["open"], r["overdue"]) for r in response.context["rows"]}


def test_open_and_overdue_per_handler(cast, client_for):
    h2 = user_with("handler", department=cast.network, username="t_h2")
    now = timezone.now()
    ticket_in_state(cast, State.ACCEPTED, phone="13900000001")  # on time
    ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=50), phone="13900000002")
    ticket_in_state(cast, State.SUSPENDED, phone="13900000003")
    ticket_in_state(cast, State.REPLIED, phone="13900000004")  # off the desk: awaits the visit
    t = ticket_in_state(cast, State.DISPATCHED, phone="13900000005")
    services.ticket_assign(ticket=t, by=cast.lead, handler=h2)
    response = client_for(cast.lead).get(URL)
    assert response.status_code == 200
    assert response.context["department"] == cast.network
    assert rows_of(response) == {"t_handler": (3, 1), "t_h2": (1, 0)}
    assert response.context["total_open"] == 4
    assert not response.context["auto_assign"]


def test_dispatcher_picks_any_department(cast, client_for):
    biz = user_with("handler", department=cast.business, username="t_biz_h")
    response = client_for(cast.dispatcher).get(URL, {"department": cast.business.pk})
    assert response.context["department"] == cast.business
    assert set(rows_of(response)) == {biz.username}


def test_lead_cannot_look_into_another_department(cast, client_for):
    user_with("handler", department=cast.business, username="t_biz_h")
    response = client_for(cast.lead).get(URL, {"department": cast.business.pk})
    assert response.context["department"] == cast.network
    assert "t_biz_h" not in rows_of(response)


@pytest.mark.parametrize("role", ["handler", "auditor", "frontline"])
def test_other_roles_are_refused(cast, client_for, role):
    assert client_for(cast.by_role(role)).get(URL).status_code in (403, 404)


def test_shows_whether_auto_assign_is_on(cast, client_for):
    AutoAssignRule.objects.create(department=cast.network, enabled=True)
    assert client_for(cast.lead).get(URL).context["auto_assign"]


def test_query_count_does_not_grow_with_handlers_or_orders(
    cast, client_for, django_assert_num_queries
):
    c = client_for(cast.lead)
    ticket_in_state(cast, State.ACCEPTED, phone="13900000001")
    c.get(URL)  # warm the session and the SLA reference caches
    with django_assert_num_queries(11) as few:
        c.get(URL)
    for i in range(6):
        h = user_with("handler", department=cast.network, username=f"t_more{i}")
        t = ticket_in_state(cast, State.DISPATCHED, phone=f"1390000010{i}")
        services.ticket_assign(ticket=t, by=cast.lead, handler=h)
    with django_assert_num_queries(len(few.captured_queries)):
        response = c.get(URL)
    assert len(response.context["rows"]) == 7
