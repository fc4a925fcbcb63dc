"""The 201 of a create is written from the order in hand, not read back (speed): it must be
exactly what reading the order gives, for every shape of report."""

from datetime import UTC, datetime

import pytest
import time_machine

from tests.factories import CategoryFactory
from workorders.models import Ticket

NOW = datetime(2026, 6, 3, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai, a Wednesday


def _bodies(cast):
    CategoryFactory(name="光猫", code="modem", parent=cast.category)
    routed_only = CategoryFactory(
        name="套餐", code="plan", default_department=cast.network, auto_dispatch=False
    )
    auto = CategoryFactory(
        name="号卡", code="sim", default_department=cast.network, auto_dispatch=True
    )
    return [
        {"category": cast.category.pk, "customer_phone": "13900000001", "description": "断网"},
        # The same phone and category again: a repeat, with its first order's number.
        {"category": cast.category.pk, "customer_phone": "139 0000 0001", "description": "又断"},
        {
            "category": "modem",
            "customer_phone": "0571-88886666",
            "description": "长" * 60,
            "title": "光猫红灯",
            "customer_name": "张三",
            "customer_address": "文三路 1 号",
            "customer_region": "西湖区",
        },
        # Urgent, a VIP, elderly, threatening to escalate: a risk score past the alert.
        {
            "category": cast.urgent_category.pk,
            "customer_phone": "13900000003",
            "description": "全小区断网",
            "star_level": 5,
            "is_elderly": True,
            "claimed_escalation": True,
        },
        {
            "category": cast.category.pk,
            "customer_phone": "13900000004",
            "description": "改紧急",
            "urgency": "urgent",
            "urgency_reason": "医院",
            "channel": "online",  # a first-response clock too
            "latitude": "30.274085",
            "longitude": "120.155070",
        },
        {"category": routed_only.pk, "customer_phone": "13900000005", "description": "套餐"},
        # Dispatched on the way in: read back (its clocks moved).
        {"category": auto.pk, "customer_phone": "13900000006", "description": "补卡"},
    ]


@pytest.mark.parametrize("replay", [False, True])
def test_the_created_order_is_what_reading_it_gives(cast, api, settings, replay):
    settings.RISK_ALERT_THRESHOLD = 40  # the fourth report (45 points) raises the alert
    client = api("frontline")
    with time_machine.travel(NOW, tick=False):
        for i, body in enumerate(_bodies(cast)):
            headers = {"HTTP_IDEMPOTENCY_KEY": f"k{i}"} if replay else {}
            created = client.post("/api/v1/tickets/", body, format="json", **headers)
            assert created.status_code == 201, created.content
            if replay:
                again = client.post("/api/v1/tickets/", body, format="json", **headers)
                assert again.status_code == 201
                assert again.json() == created.json()
            number = created.json()["number"]
            read = client.get(f"/api/v1/tickets/{number}/")
            assert created.json() == read.json(), body
            assert list(created.json()) == list(read.json())
            assert created["ETag"] == read["ETag"]
    made = Ticket.objects.order_by("id")
    assert [t.is_repeat for t in made][:2] == [False, True]
    assert made[3].risk_score > 0 and made[3].risk_alerted_at is not None
    assert made[6].state == "dispatched"
