"""The daily cap is a decision two relays can take at once: on PostgreSQL, two relays sending
to one number with one place left under its cap send one text, not two."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.outbox import Skip
from notifications.sms_channel import sms_send
from tests.conftest import requires_postgres


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_relays_cannot_both_take_a_numbers_last_place(settings, tmp_path, monkeypatch):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = tmp_path / "sms"
    settings.SMS_QUIET_HOURS = ""
    settings.SMS_DAILY_CAP = 1
    now = timezone.now()
    rows = [
        Delivery.objects.create(
            channel=Channel.SMS,
            key=f"sms:race:{i}",
            kind="accepted",
            address="13800138000",
            payload={"event": "accepted", "text": f"text {i}", "template": "WS_ACCEPTED"},
            created_at=now,
            next_attempt_at=now,
        )
        for i in range(2)
    ]
    # Widen the window between counting the number's texts and taking the place.
    count = QuerySet.count

    def slow_count(qs):
        n = count(qs)
        time.sleep(0.3)
        return n

    monkeypatch.setattr(QuerySet, "count", slow_count)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def relay(row: Delivery) -> None:
        try:
            barrier.wait()
            sms_send(row)
            outcomes.append("sent")
        except Skip:
            outcomes.append("skipped")
        finally:
            connection.close()

    threads = [threading.Thread(target=relay, args=(row,)) for row in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["sent", "skipped"]
    counted = Delivery.objects.filter(address="13800138000", counted_on__isnull=False)
    assert counted.count() == 1
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2  # relay marks
