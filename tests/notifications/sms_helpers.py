"""Helpers of the SMS tests: run the outbox relay at a given instant (the sender reads the real
clock for quiet hours and the day of the cap, so the clock is moved there too), read what the
file backend wrote, sign a callback body."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import time_machine
from django.conf import settings

from notifications.models import Channel, Delivery
from notifications.outbox import outbox_relay
from notifications.services import SIGNATURE_HEADER, sign

CALLBACK_SECRET = "callback-secret-for-tests"


def deliver(at: datetime):
    """Run the relay at `at`, with the clock at `at`."""
    with time_machine.travel(at, tick=False):
        return outbox_relay(now=at)


def sent_lines() -> list[dict]:
    """Every text the file backend wrote, in order."""
    lines = []
    for path in sorted(Path(settings.SMS_FILE_DIR).glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


def sms_rows(**filters):
    return Delivery.objects.filter(channel=Channel.SMS, **filters).order_by("created_at", "id")


def signed_post(client, url: str, data, *, secret: str = CALLBACK_SECRET, signature=None):
    body = json.dumps(data, ensure_ascii=False).encode()
    headers = {}
    if signature is not False:
        headers["HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")] = (
            signature if signature is not None else sign(secret, body)
        )
    return client.post(url, data=body, content_type="application/json", **headers)
