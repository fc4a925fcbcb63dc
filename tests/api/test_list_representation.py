"""The list serializer writes its rows by hand (speed); each row must be what DRF's generic
walk over the declared fields gives, for every shape of order and every role."""

import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from api.serializers import TicketListSerializer
from api.views import TicketList
from tests.factories import CategoryFactory, report, ticket_in_state
from workorders import services
from workorders.models import State


def _orders(cast):
    sub = CategoryFactory(name="光猫", code="modem", parent=cast.category)
    out = [
        report(cast, phone="13900000001", star_level=5, is_elderly=True, title="标题"),
        report(cast, phone="0571-88886666", category=sub, description="长" * 60),
        report(cast, phone="13900000003", category=cast.urgent_category, claimed_escalation=True),
        ticket_in_state(cast, State.DISPATCHED, phone="13900000004"),
        ticket_in_state(cast, State.ACCEPTED, phone="13900000005", customer_name="张三"),
        ticket_in_state(cast, State.SUSPENDED, phone="13900000006"),
        ticket_in_state(cast, State.REPLIED, phone="13900000007"),
        ticket_in_state(cast, State.CLOSED, phone="13900000008", star_level=2),
        ticket_in_state(cast, State.CANCELLED, phone="13900000009"),
    ]
    services.ticket_claim(ticket=out[3], by=cast.lead, handler=cast.handler)
    cast.handler.first_name, cast.handler.last_name = "明", "王"
    cast.handler.save()
    return out


@pytest.mark.parametrize("role", ["dispatcher", "lead", "handler", "frontline", "auditor"])
def test_hand_written_rows_equal_the_generic_serializer(cast, role):
    _orders(cast)
    user = cast.by_role(role)
    request = APIRequestFactory().get("/api/v1/tickets/")
    request.user = user
    view = TicketList()
    view.request = request
    rows = list(view.get_queryset())
    assert rows, "the role sees some orders"
    ser = TicketListSerializer(context={"request": request})
    for t in rows:
        fast = ser.to_representation(t)
        generic = serializers.Serializer.to_representation(ser, t)
        assert fast == generic
        assert list(fast) == list(generic)
        assert list(fast["customer"]) == list(generic["customer"])


def test_category_path_follows_a_renamed_parent(cast, api):
    """The parent's name comes from the per-process copy of the categories, which a save
    clears: the list and the detail show the new name at once."""
    sub = CategoryFactory(name="光猫", code="modem", parent=cast.category)
    t = report(cast, category=sub)
    client = api("dispatcher")

    def paths():
        listed = client.get("/api/v1/tickets/").json()["results"][0]["category"]["path"]
        detail = client.get(f"/api/v1/tickets/{t.number}/").json()["category"]["path"]
        return listed, detail

    assert paths() == ("宽带故障 / 光猫", "宽带故障 / 光猫") == (sub.path_display,) * 2
    cast.category.name = "宽带"
    cast.category.save()
    assert paths() == ("宽带 / 光猫", "宽带 / 光猫")
