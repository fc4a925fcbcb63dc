"""Email and webhook channels: enqueued after commit, delivered by tasks, each exactly once."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core import mail

from notifications.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from notifications.services import SIGNATURE_HEADER, verify_signature, webhook_deliver
from sla.engine import sla_sweep
from tests.factories import ticket_in_state
from tests.sla.conftest import T0
from workorders.models import State

GENERAL = timedelta(hours=48)


@pytest.fixture
def endpoint(receiver, db):
    return WebhookEndpoint.objects.create(name="ops", url=receiver.url, secret="s3cret-key")


def remind_due(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
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
    delivery = WebhookDelivery.objects.get(kind="remind")
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.attempt_log.count() == 1


def test_webhook_is_delivered_once_even_if_the_task_runs_twice(
    cast, endpoint, receiver, django_capture_on_commit_callbacks
):
    _t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=now)
    delivery = WebhookDelivery.objects.get(kind="remind")
    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_failing_receiver_is_retried_with_backoff_and_the_failure_recorded(
    cast, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.status = 500
    _t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sla_sweep(now=now)
    delivery = WebhookDelivery.objects.get(kind="remind")

    # The service, attempt by attempt: each failure schedules the next one later.
    first = webhook_deliver(delivery_id=delivery.pk, now=now)
    assert first.status == "pending" and first.retry_in == settings.WEBHOOK_BACKOFF_SECONDS
    second = webhook_deliver(delivery_id=delivery.pk, now=now)
    assert second.retry_in == 2 * settings.WEBHOOK_BACKOFF_SECONDS
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=second.retry_in)

    # The task retries (eagerly in tests) until the limit, then the delivery is failed.
    for callback in callbacks:
        callback()
    delivery.refresh_from_db()
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error == "HTTP 500"
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 500, 500]


def test_unreachable_receiver_failure_is_recorded(cast, settings, db):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    WebhookEndpoint.objects.create(name="down", url="http://127.0.0.1:9/hook", secret="x")
    _t, now = remind_due(cast)
    sla_sweep(now=now)
    delivery = WebhookDelivery.objects.get(kind="remind")
    result = webhook_deliver(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    assert result.status == "failed" and delivery.status == "failed"
    assert "ConnectionError" in delivery.last_error
    assert WebhookAttempt.objects.filter(delivery=delivery, status_code=None).count() == 1


def test_slow_receiver_does_not_block_the_sweep(
    cast, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.delay = 3
    t, now = remind_due(cast)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = sla_sweep(now=now)
    # The sweep recorded and notified without talking to the receiver at all: the
    # delivery is only enqueued, for after the commit, to a task.
    assert result.events == 1 and result.webhooks == 1
    assert receiver.requests == []
    assert Notification.objects.filter(ticket=t, kind="remind").exists()
    delivery = WebhookDelivery.objects.get(kind="remind")
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert len(callbacks) >= 1

    for callback in callbacks:
        callback()
    delivery.refresh_from_db()
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.last_error) == ("failed", "timeout")


def test_endpoint_kinds_filter_what_it_hears(cast, receiver, db):
    WebhookEndpoint.objects.create(
        name="sup", url=receiver.url, secret="x", kinds=["supervise", "escalate"]
    )
    _t, now = remind_due(cast)
    sla_sweep(now=now)
    assert not WebhookDelivery.objects.exists()  # neither the dispatch nor the remind
    sla_sweep(now=T0 + GENERAL)
    assert list(WebhookDelivery.objects.values_list("kind", flat=True)) == ["supervise"]


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
    for callback in callbacks:
        callback()
    for callback in callbacks:  # a redelivered task
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["handler@example.com"]
    assert message.subject.startswith(f"[Remind] Order {t.number}")
    n = Notification.objects.get(ticket=t, kind="remind")
    assert n.emailed_at is not None


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
    assert not WebhookDelivery.objects.filter(kind="remind").exists()


def test_webhook_admin_is_superuser_only(client, cast):
    from tests.factories import PASSWORD

    client.force_login(cast.supervisor)
    assert client.get("/admin/notifications/webhookendpoint/").status_code == 403
    from accounts.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    assert client.get("/admin/notifications/webhookendpoint/").status_code == 200
    assert client.get("/admin/notifications/webhookdelivery/").status_code == 200
