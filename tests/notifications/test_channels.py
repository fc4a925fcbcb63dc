"""Email and webhook channels: written to the outbox with the change, sent by the relay after
the commit, each once (and every try carries the same idempotency key)."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core import mail

from notifications.models import Delivery, DeliveryAttempt, Notification, WebhookEndpoint
from notifications.outbox import outbox_relay
from notifications.services import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature
from sla.engine import sla_sweep
from tests.factories import ticket_in_state
from tests.sla.conftest import T0
from workorders.models import State

GENERAL = timedelta(hours=48)


@pytest.fixture
def endpoint(receiver, db):
    return WebhookEndpoint.objects.create(name="ops", url=receiver.url, secret="s3cret-key")


def remind_due(cast):
    """An accepted order whose promise reminder (50 %) is due; its earlier webhooks (the
    dispatch) already sent."""
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    Delivery.objects.update(status="sent")
    return t, T0 + GENERAL / 2


def test_webhook_signature_is_verifiable_by_the_receiver(
    cast, endpoint, receiver, django_capture_on_commit_callbacks
):
    t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=now)
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    expected = hmac.new(b"s3cret-key", req["body"], hashlib.sha256).hexdigest()
    assert req["headers"][SIGNATURE_HEADER] == f"sha256={expected}"
    assert verify_signature("s3cret-key", req["body"], req["headers"][SIGNATURE_HEADER])
    assert not verify_signature("other-key", req["body"], req["headers"][SIGNATURE_HEADER])
    payload = json.loads(req["body"])
    assert payload["event"] == "sla.remind"
    assert payload["ticket"]["number"] == t.number
    assert payload["clock"]["kind"] == "promise"
    assert "customer_phone" not in json.dumps(payload)
    delivery = Delivery.objects.get(channel="webhook", kind="remind")
    assert req["headers"][DELIVERY_HEADER] == delivery.key
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 200)
    assert delivery.attempt_log.count() == 1


def test_webhook_is_delivered_once_even_if_the_relay_runs_twice(
    cast, endpoint, receiver, django_capture_on_commit_callbacks
):
    _t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sla_sweep(now=now)
    assert len(callbacks) >= 1  # the doorbell rang (and, eager in tests, ran the relay)
    again = outbox_relay()
    assert again.claimed == 0
    assert len(receiver.requests) == 1


def test_failing_receiver_is_retried_with_backoff_and_the_failure_recorded(
    cast, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    base = settings.OUTBOX_BACKOFF_SECONDS
    receiver.status = 500
    _t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=False):
        sla_sweep(now=now)
    delivery = Delivery.objects.get(channel="webhook", kind="remind")

    # Each failure schedules the next try later, twice as far each time.
    assert outbox_relay(now=now).retrying == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=base)
    assert outbox_relay(now=now + timedelta(seconds=base - 1)).claimed == 0  # not due yet
    second = now + timedelta(seconds=base)
    assert outbox_relay(now=second).retrying == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == second + timedelta(seconds=2 * base)

    # The last allowed attempt fails the delivery for good.
    assert outbox_relay(now=second + timedelta(seconds=2 * base)).failed == 1
    delivery.refresh_from_db()
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert delivery.last_error == "HTTP 500"
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 500, 500]
    assert outbox_relay(now=now + timedelta(days=30)).claimed == 0
    # Every try carried the same idempotency key.
    assert {r["headers"][DELIVERY_HEADER] for r in receiver.requests} == {delivery.key}


def test_unreachable_receiver_failure_is_recorded(cast, settings, db):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    WebhookEndpoint.objects.create(name="down", url="http://127.0.0.1:9/hook", secret="x")
    _t, now = remind_due(cast)
    sla_sweep(now=now)
    delivery = Delivery.objects.get(channel="webhook", kind="remind")
    assert outbox_relay(now=now).failed == 1
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert "ConnectionError" in delivery.last_error
    assert DeliveryAttempt.objects.filter(delivery=delivery, status_code=None).count() == 1


def test_disabled_endpoint_fails_its_pending_deliveries_without_posting(
    cast, endpoint, receiver, django_capture_on_commit_callbacks
):
    _t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=False):
        sla_sweep(now=now)
    endpoint.active = False
    endpoint.save()
    assert outbox_relay(now=now).failed == 1
    delivery = Delivery.objects.get(channel="webhook", kind="remind")
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "failed",
        1,
        "endpoint disabled",
    )
    assert receiver.requests == []


def test_slow_receiver_does_not_block_the_sweep(
    cast, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT = (1, 0.5)
    settings.OUTBOX_MAX_ATTEMPTS = 1
    receiver.delay = 3
    t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = sla_sweep(now=now)
    # The sweep recorded and notified without talking to the receiver at all: the
    # delivery is only an outbox row, rung for after the commit.
    assert result.events == 1 and result.webhooks == 1
    assert receiver.requests == []
    assert Notification.objects.filter(ticket=t, kind="remind").exists()
    delivery = Delivery.objects.get(channel="webhook", kind="remind")
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert len(callbacks) >= 1

    for callback in callbacks:
        callback()
    delivery.refresh_from_db()
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.last_error) == ("failed", "timeout")
    assert delivery.attempt_log.get().duration_ms < 2500  # the read timeout, not the 3 s


def test_endpoint_kinds_filter_what_it_hears(cast, receiver, db):
    WebhookEndpoint.objects.create(
        name="sup", url=receiver.url, secret="x", kinds=["supervise", "escalate"]
    )
    _t, now = remind_due(cast)
    sla_sweep(now=now)
    webhooks = Delivery.objects.filter(channel="webhook")
    assert not webhooks.exists()  # neither the dispatch nor the remind
    sla_sweep(now=T0 + GENERAL)
    assert list(webhooks.values_list("kind", flat=True)) == ["supervise"]


def test_email_is_sent_once_in_the_recipients_language(
    cast, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cast.handler.email = "handler@example.com"
    cast.handler.language = "en"
    cast.handler.save()
    t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sla_sweep(now=now)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    for callback in callbacks:  # a second doorbell
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["handler@example.com"]
    assert message.subject.startswith(f"[Remind] Order {t.number}")
    n = Notification.objects.get(ticket=t, kind="remind")
    delivery = Delivery.objects.get(channel="email", key=n.key)
    assert (delivery.status, delivery.address) == ("sent", "handler@example.com")
    assert delivery.sent_at is not None
    assert message.extra_headers[DELIVERY_HEADER] == n.key
    assert message.extra_headers["Message-ID"] == f"<sla.{n.key[4:].replace(':', '.')}@localhost>"


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    cast, endpoint, django_capture_on_commit_callbacks
):
    from django.db import transaction

    _t, now = remind_due(cast)

    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        sla_sweep(now=now)
        raise Boom
    assert callbacks == []
    assert not Delivery.objects.filter(kind="remind").exists()


def test_webhook_admin_is_superuser_only(client, cast):
    from tests.factories import PASSWORD

    client.force_login(cast.supervisor)
    assert client.get("/admin/notifications/webhookendpoint/").status_code == 403
    from accounts.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    assert client.get("/admin/notifications/webhookendpoint/").status_code == 200
    assert client.get("/admin/notifications/delivery/").status_code == 200
