"""A worker killed with SIGKILL in the middle of sending 1,000 e-mails loses none: the rows it
had claimed come due again when their lease ends, and a new worker sends them. Delivery is at
least once; a repeat (the message in flight at the kill) carries the same idempotency key and
Message-ID, so the receiver keeps each e-mail exactly once."""

import time

import pytest
from django.utils import timezone

from notifications.models import Delivery, DeliveryAttempt, NotificationKind
from notifications.services import Note, notifications_create
from tests.conftest import requires_postgres
from tests.faults.conftest import bulk_users
from tests.sinks import MailSink
from tests.workers import kill, log_tail, start_worker, stop, wait_for

MAILS = 1000
CONCURRENCY = 2


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sigkill_mid_delivery_loses_no_mail_and_repeats_only_what_was_in_flight(
    redis_url, no_doorbell, tmp_path
):
    # Given 1,000 notifications with e-mails in the outbox …
    users = bulk_users(MAILS)
    texts = {"zh-hans": ("测试通知", "正文"), "en": ("Test notice", "Body")}
    notifications_create(
        notes=[Note(u, None, NotificationKind.OTHER, f"bulk:u{u.pk}", texts) for u in users],
        now=timezone.now(),
    )
    keys = set(Delivery.objects.filter(channel="email").values_list("key", flat=True))
    assert len(keys) == MAILS

    # … and a mail server that takes a moment per message (recorded before it answers).
    sink = MailSink(delay=0.01).start()
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "OUTBOX_RELAY_SECONDS": "1",
        "OUTBOX_LEASE_SECONDS": "4",
        "OUTBOX_RELAY_BATCH": "20",
    }
    sent = Delivery.objects.filter(channel="email", status="sent")
    try:
        # When a worker (two processes) is killed with SIGKILL while it is sending …
        first = start_worker(
            tmp_path, redis_url, name="first", pool="prefork", concurrency=CONCURRENCY, env=env
        )
        try:
            started = wait_for(lambda: sink.count() >= 250, timeout=120, procs=[first])
            assert started, log_tail(tmp_path, "first")
        finally:
            kill(first)
        at_kill = sink.count()
        sent_at_kill = sent.count()
        assert at_kill < MAILS and sent_at_kill < MAILS, "the kill came too late to test"
        time.sleep(1)
        assert sink.count() == at_kill  # nothing sends any more

        # … then a new worker sends the rest, including what the dead one had claimed.
        second = start_worker(
            tmp_path, redis_url, name="second", pool="prefork", concurrency=CONCURRENCY, env=env
        )
        try:
            done = wait_for(lambda: sent.count() == MAILS, timeout=180, procs=[second])
            time.sleep(2)  # further relay runs send nothing more
        finally:
            stop(second)
        assert done, log_tail(tmp_path, "second")
        received = sink.keys()
        messages = list(sink.messages)
    finally:
        sink.close()

    # Then every e-mail arrived, and only messages in flight at the kill arrived twice.
    assert set(received) == keys
    repeats = {k: n for k, n in received.items() if n > 1}
    assert sum(n - 1 for n in repeats.values()) <= CONCURRENCY, repeats
    for key in repeats:  # a repeat is recognisable as one: same key, same Message-ID
        assert len({m["message_id"] for m in messages if m["key"] == key}) == 1
    # … which a receiver that keeps the first of each key turns into exactly once.
    kept = {m["key"]: m for m in messages}
    assert len(kept) == MAILS
    assert not Delivery.objects.exclude(status="sent").exists()
    # Rows the dead worker had claimed but not sent were claimed again (second attempt).
    assert Delivery.objects.filter(attempts__gte=2).exists()
    assert DeliveryAttempt.objects.filter(error="").count() == MAILS
    print(
        f"\nkilled after {at_kill} received / {sent_at_kill} marked sent; "
        f"repeats: {sum(n - 1 for n in repeats.values())}; "
        f"re-claimed: {Delivery.objects.filter(attempts__gte=2).count()}"
    )
