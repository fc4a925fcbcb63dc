"""Who hears about a fault: a new suspected fault reaches the dispatchers and the leads of the
category's department (in-app); a confirmed one the fault department's leads; every fault
audit row is one webhook event of kind `fault`."""

from __future__ import annotations

import pytest
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault, FaultAudit
from faults.services import fault_confirm
from notifications.models import Delivery, Notification, WebhookEndpoint

from .conftest import orders_near

pytestmark = pytest.mark.django_db


def test_detection_tells_dispatchers_and_the_categorys_department(cast, net):
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now)
    orders_near(cast, net.broadband, n=5, now=now, north=9000)
    fault_detect(now=now)
    notes = Notification.objects.filter(kind="fault")
    # Two faults, each to the dispatcher and the network line's lead; nobody else.
    assert sorted(notes.values_list("recipient__username", flat=True)) == sorted(
        [cast.dispatcher.username, cast.lead.username] * 2
    )
    note = notes.filter(recipient=cast.dispatcher).first()
    assert note.title.startswith("疑似群障 QZ") and note.ticket is None
    assert "两小时内已有 5 张工单" in note.body
    assert note.texts["en"][0].startswith("Suspected mass fault QZ")


def test_confirm_tells_the_departments_leads_and_webhooks_hear_every_row(cast, net):
    WebhookEndpoint.objects.create(name="noc", url="https://noc.example.internal/hook", secret="s")
    WebhookEndpoint.objects.create(
        name="tickets only", url="https://x.example.internal/", secret="s", kinds=["closed"]
    )
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now)
    fault_detect(now=now)
    fault = Fault.objects.get()
    before = Notification.objects.filter(recipient=cast.lead).count()
    fault_confirm(fault=fault, by=cast.dispatcher, now=now)
    assert Notification.objects.filter(recipient=cast.lead).count() == before + 1
    assert not Notification.objects.filter(recipient=cast.dispatcher, title__contains="已确认")
    deliveries = Delivery.objects.filter(channel="webhook", kind="fault").order_by("id")
    assert [d.payload["event"] for d in deliveries] == ["fault.detect", "fault.confirm"]
    assert {d.endpoint.name for d in deliveries} == {"noc"}
    assert [d.key for d in deliveries] == [
        f"fault-audit:{a.pk}:ep{deliveries[0].endpoint_id}"
        for a in FaultAudit.objects.order_by("id")
    ]
    assert deliveries[1].payload["fault"]["number"] == fault.number
    assert deliveries[1].payload["fault"]["state"] == "confirmed"
    assert "customer" not in str(deliveries[1].payload)
