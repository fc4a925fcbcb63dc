"""The detail serializer writes an order by hand (speed); it must be what DRF's generic walk
over the declared fields gives, for every shape of order and every role."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from api.common import detail_queryset
from api.serializers import TicketDetailSerializer
from tests.factories import CategoryFactory, report, ticket_in_state
from workorders import services
from workorders.models import State


def _orders(cast):
    sub = CategoryFactory(
        name="光猫", code="modem", parent=cast.category, default_department=cast.network
    )
    first = report(cast, phone="13900000001", star_level=5, is_elderly=True, title="标题")
    out = [
        first,
        report(cast, phone="13900000001", description="又一次"),  # a repeat of the first
        report(cast, phone="0571-88886666", category=sub, description="长" * 60),
        report(cast, phone="13900000003", category=cast.urgent_category, claimed_escalation=True),
        ticket_in_state(cast, State.DISPATCHED, phone="13900000004"),
        ticket_in_state(cast, State.ACCEPTED, phone="13900000005", customer_name="张三"),
        ticket_in_state(cast, State.SUSPENDED, phone="13900000006"),
        ticket_in_state(cast, State.REPLIED, phone="13900000007"),
        ticket_in_state(cast, State.CLOSED, phone="13900000008", star_level=2),
        ticket_in_state(cast, State.CANCELLED, phone="13900000009"),
    ]
    co = report(cast, phone="13900000010")
    services.ticket_dispatch(
        ticket=co, by=cast.dispatcher, department=cast.network, co_departments=[cast.business]
    )
    out.append(co)
    cast.handler.first_name, cast.handler.last_name = "明", "王"
    cast.handler.save()
    return out


@pytest.mark.parametrize("role", ["dispatcher", "lead", "handler", "frontline", "auditor"])
def test_hand_written_detail_equals_the_generic_serializer(cast, role):
    _orders(cast)
    user = cast.by_role(role)
    request = APIRequestFactory().get("/api/v1/tickets/x/")
    request.user = user
    rows = list(detail_queryset(user))
    assert rows, "the role sees some orders"
    for now in (timezone.now(), timezone.now() + timedelta(days=5)):
        ser = TicketDetailSerializer(context={"request": request, "now": now})
        for t in rows:
            fast = ser.to_representation(t)
            generic = serializers.Serializer.to_representation(ser, t)
            assert fast == generic
            assert list(fast) == list(generic)
            assert list(fast["customer"]) == list(generic["customer"])
            for a, b in zip(fast["clocks"], generic["clocks"], strict=True):
                assert list(a) == list(b)
    if role == "dispatcher":  # sees every order: the shapes above are all there
        assert any(t.repeat_of_number for t in rows) and any(t.co_departments.all() for t in rows)
