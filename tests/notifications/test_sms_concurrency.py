"""The daily cap is a decision two relays can take at once: on PostgreSQL, two relays sending
to one number with one place left under its cap send one text, not two."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from notifications import sms_channel
from notifications.models import Channel, Delivery, SmsDailyCount
from notifications.outbox import Sent, Skip
from notifications.sms_channel import sms_send
from tests.conftest import requires_postgres

PHONE = "13800138000"


@pytest.fixture
def one_place(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = tmp_path / "sms"
    settings.SMS_QUIET_HOURS = ""
    settings.SMS_DAILY_CAP = 1


def _both(work) -> list:
    barrier = threading.Barrier(2)
    outcomes: list = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            outcomes.append(work(i))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_last_place_goes_to_one_of_two_transactions(one_place):
    """The second taker waits for the first one's transaction, then finds the day full."""
    today = timezone.localdate()

    def take(_i: int) -> bool:
        with transaction.atomic():
            taken = sms_channel._take_place(PHONE, today)
            time.sleep(0.3)  # hold the place, uncommitted, while the other one tries
            return taken

    assert sorted(_both(take)) == [False, True]
    assert SmsDailyCount.objects.get(phone=PHONE, day=today).sent == 1


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_relays_sending_to_one_number_send_one_text(one_place):
    now = timezone.now()
    rows = [
        Delivery.objects.create(
            channel=Channel.SMS,
            key=f"sms:race:{i}",
            kind="accepted",
            address=PHONE,
            payload={"event": "accepted", "text": f"text {i}", "template": "WS_ACCEPTED"},
            created_at=now,
            next_attempt_at=now,
        )
        for i in range(2)
    ]

    def relay(i: int) -> str:
        try:
            return "sent" if isinstance(sms_send(rows[i]), Sent) else "?"
        except Skip:
            return "skipped"

    assert sorted(_both(relay)) == ["sent", "skipped"]
    assert SmsDailyCount.objects.get(phone=PHONE).sent == 1
