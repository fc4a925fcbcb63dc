"""Upgrading to the outbox keeps what was sent and what was waiting: webhook deliveries become
outbox rows, e-mail history moves from the notification to the outbox, and a recent
notification whose mail never went out gets a pending delivery for the relay."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("notifications", "0003_notification_texts")]
AFTER = [("notifications", "0006_notification_email_in_outbox")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_upgrade_moves_webhooks_and_mail_history_into_the_outbox(settings):
    settings.NOTIFY_EMAIL = True
    old = migrate(BEFORE)
    try:
        User = old.get_model("accounts", "User")
        Notification = old.get_model("notifications", "Notification")
        Endpoint = old.get_model("notifications", "WebhookEndpoint")
        WebhookDelivery = old.get_model("notifications", "WebhookDelivery")
        WebhookAttempt = old.get_model("notifications", "WebhookAttempt")
        now = timezone.now()
        mailed = User.objects.create(username="m", email="m@example.com")
        no_mail = User.objects.create(username="n", email="")

        def note(key, user, **kw):
            return Notification.objects.create(
                recipient=user, kind="remind", title=f"T {key}", body="B", key=key, **kw
            )

        note("sent", mailed, created_at=now - timedelta(days=3), emailed_at=now)
        note("broken", mailed, created_at=now - timedelta(days=3), email_error="550 no")
        note("waiting", mailed, created_at=now - timedelta(hours=2))  # queued or lost
        note("old", mailed, created_at=now - timedelta(days=3))  # too old to send now
        note("nomail", no_mail, created_at=now)
        ep = Endpoint.objects.create(name="ops", url="http://127.0.0.1:9/", secret="s")
        done = WebhookDelivery.objects.create(
            endpoint=ep, key="a:ep1", kind="remind", payload={}, created_at=now,
            status="succeeded", attempts=1, delivered_at=now,
        )  # fmt: skip
        WebhookAttempt.objects.create(delivery=done, at=now, status_code=200)
        WebhookDelivery.objects.create(
            endpoint=ep, key="b:ep1", kind="remind", payload={}, created_at=now,
            next_attempt_at=now,
        )  # fmt: skip

        new = migrate(AFTER)
        Delivery = new.get_model("notifications", "Delivery")
        rows = {(d.channel, d.key): d for d in Delivery.objects.all()}
        assert set(rows) == {
            ("webhook", "a:ep1"),
            ("webhook", "b:ep1"),
            ("email", "sent"),
            ("email", "broken"),
            ("email", "waiting"),
        }
        assert rows["webhook", "a:ep1"].status == "sent"
        assert rows["webhook", "a:ep1"].sent_at is not None
        assert rows["webhook", "a:ep1"].attempt_log.count() == 1
        assert rows["webhook", "b:ep1"].status == "pending"
        assert (rows["email", "sent"].status, rows["email", "sent"].sent_at) == ("sent", now)
        assert rows["email", "broken"].status == "failed"
        assert rows["email", "broken"].last_error == "550 no"
        waiting = rows["email", "waiting"]
        assert (waiting.status, waiting.address) == ("pending", "m@example.com")
        assert waiting.payload == {"subject": "T waiting", "body": "B"}
        assert waiting.next_attempt_at is not None
    finally:
        migrate(_latest())


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
