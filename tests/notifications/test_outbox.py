"""The outbox relay: leases, fencing, backoff, deferral, the sender registry, the doorbell."""

import threading
from datetime import timedelta

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from notifications import outbox
from notifications.models import Channel, Delivery, DeliveryAttempt
from notifications.outbox import (
    Defer,
    SendError,
    deliveries_enqueue,
    outbox_relay,
    register_sender,
)
from notifications.selectors import deliveries_failed, outbox_backlog
from tests.conftest import is_postgres, requires_postgres
from tests.sla.conftest import T0

LEASE = timedelta(seconds=120)


class Recorder:
    """A sender for a test channel: records the keys it was given; `fail` decides per call."""

    def __init__(self, fail=None):
        self.keys: list[str] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, delivery):
        with self.lock:
            self.keys.append(delivery.key)
        if self.fail:
            self.fail(delivery)
        return 202


@pytest.fixture
def sms(monkeypatch):
    """A registered sender for the (not yet built) SMS channel, removed afterwards."""
    monkeypatch.setattr(outbox, "_senders", dict(outbox._senders))
    recorder = Recorder()
    register_sender(Channel.SMS, recorder, max_attempts=2)
    return recorder


def rows(n, *, now=T0, channel=Channel.SMS):
    return deliveries_enqueue(
        Delivery(
            channel=channel,
            key=f"k{i}",
            kind="other",
            address="13800138000",
            payload={"text": f"m{i}"},
            created_at=now,
        )
        for i in range(n)
    )


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.OUTBOX_LEASE_SECONDS = int(LEASE.total_seconds())
    settings.OUTBOX_BACKOFF_SECONDS = 30


def test_a_new_channel_is_a_sender_and_every_row_is_sent_once(db, sms):
    rows(3)
    result = outbox_relay(now=T0)
    assert (result.claimed, result.sent) == (3, 3)
    assert sorted(sms.keys) == ["k0", "k1", "k2"]
    assert set(Delivery.objects.values_list("status", "attempts", "last_status_code")) == {
        ("sent", 1, 202)
    }
    assert outbox_relay(now=T0 + timedelta(days=1)).claimed == 0


def test_writing_the_same_key_twice_sends_once(db, sms):
    rows(2)
    rows(2)
    assert Delivery.objects.count() == 2
    outbox_relay(now=T0)
    assert sorted(sms.keys) == ["k0", "k1"]


def test_rows_of_a_channel_without_a_sender_wait(db, monkeypatch):
    monkeypatch.setattr(outbox, "_senders", dict(outbox._senders))
    outbox._senders.pop(Channel.SMS, None)
    rows(2)
    assert outbox_relay(now=T0).claimed == 0
    assert outbox_backlog(now=T0) == 2
    assert set(Delivery.objects.values_list("status", "attempts")) == {("pending", 0)}


def test_a_claim_whose_worker_died_is_sent_again_after_its_lease(db, sms):
    """At least once: a relay that claimed rows and died (no mark) leaves them claimed until
    the lease ends; then the next relay sends them, with the same key."""
    rows(2)
    claimed = outbox._claim(now=T0, size=10)  # … and the worker is killed here
    assert len(claimed) == 2
    assert outbox_backlog(now=T0) == 0  # in flight, not due
    assert outbox_relay(now=T0 + LEASE - timedelta(seconds=1)).claimed == 0
    result = outbox_relay(now=T0 + LEASE)
    assert result.sent == 2
    assert sorted(sms.keys) == ["k0", "k1"]
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {2}


def test_a_relay_that_lost_its_lease_does_not_overwrite_the_new_claim(db, sms):
    rows(1)
    (stale,) = outbox._claim(now=T0, size=1)
    (fresh,) = outbox._claim(now=T0 + LEASE, size=1)  # the lease ran out; another relay
    assert fresh.attempts == stale.attempts + 1
    # The stale relay's failure must not reschedule or fail the row now held by the other.
    assert outbox._fence(stale).update(status="failed") == 0
    sms.fail = lambda d: (_ for _ in ()).throw(SendError("HTTP 503", code=503))
    result = outbox.RelayResult()
    outbox._send(stale, T0 + LEASE, result)
    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 2, T0 + 2 * LEASE)


def test_failures_back_off_then_fail_at_the_channels_limit(db, sms):
    sms.fail = lambda d: (_ for _ in ()).throw(SendError("HTTP 503", code=503))
    rows(1)
    assert outbox_relay(now=T0).retrying == 1
    d = Delivery.objects.get()
    assert d.next_attempt_at == T0 + timedelta(seconds=30)
    assert outbox_relay(now=T0 + timedelta(seconds=30)).failed == 1  # max_attempts=2
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_error, d.last_status_code) == (
        "failed",
        2,
        "HTTP 503",
        503,
    )
    assert DeliveryAttempt.objects.filter(delivery=d).count() == 2
    assert deliveries_failed() == 1 and deliveries_failed(channel=Channel.EMAIL) == 0


def test_a_permanent_error_fails_at_once(db, sms):
    sms.fail = lambda d: (_ for _ in ()).throw(SendError("no number", permanent=True))
    rows(1)
    assert outbox_relay(now=T0).failed == 1
    assert Delivery.objects.get().attempts == 1


def test_an_unexpected_exception_is_a_failed_attempt_not_a_crash(db, sms):
    sms.fail = lambda d: 1 / 0
    rows(2)
    result = outbox_relay(now=T0)
    assert result.retrying == 2
    assert set(Delivery.objects.values_list("last_error", flat=True)) == {
        "ZeroDivisionError: division by zero"
    }


def test_defer_postpones_without_counting_an_attempt(db, sms):
    morning = T0 + timedelta(hours=10)
    sms.fail = lambda d: (_ for _ in ()).throw(Defer(morning, "quiet hours"))
    rows(1)
    assert outbox_relay(now=T0).deferred == 1
    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 0, morning)
    assert not DeliveryAttempt.objects.exists()
    sms.fail = None
    assert outbox_relay(now=morning - timedelta(minutes=1)).claimed == 0
    assert outbox_relay(now=morning).sent == 1


def test_the_limit_and_the_time_budget_leave_the_rest_for_the_next_run(db, sms, settings):
    settings.OUTBOX_RELAY_BATCH = 2
    rows(5)
    first = outbox_relay(now=T0, limit=3)
    assert (first.sent, first.more) == (3, True)
    # No time left: whatever it claimed goes back, due at once, its attempt not counted.
    spent = outbox_relay(now=T0, budget_seconds=0)
    assert (spent.claimed, spent.sent, spent.more) == (0, 0, True)
    (claimed,) = outbox._claim(now=T0, size=1)
    assert outbox._release([claimed], T0) == 1
    assert outbox_backlog(now=T0) == 2
    assert set(Delivery.objects.filter(status="pending").values_list("attempts", flat=True)) == {0}
    rest = outbox_relay(now=T0)
    assert (rest.sent, rest.more) == (2, False)


def test_the_doorbell_never_raises_when_the_broker_is_down(db, sms, monkeypatch, caplog):
    """A broker that is down is logged; the committed rows wait for the periodic relay."""
    from notifications import tasks

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.outbox_relay_task, "apply_async", down)
    outbox.outbox_ring()
    assert "could not ring the relay" in caplog.text
    assert sms.keys == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rows_and_the_doorbell_belong_to_the_transaction(sms, monkeypatch):
    rang = []
    monkeypatch.setattr(outbox, "outbox_ring", lambda: rang.append(1))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        rows(2)
        raise Boom
    assert not Delivery.objects.exists() and rang == []
    with transaction.atomic():
        rows(2)
        assert rang == []  # not before the commit
    assert rang == [1]
    assert Delivery.objects.count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rows_due_later_ring_no_doorbell_and_the_periodic_relay_sends_them(sms, monkeypatch):
    """A relay rung now would find nothing due (a text in its coalescing wait): no broker
    round trip. A row due now in the same write still rings; the later row is sent by the
    periodic relay once due, exactly once."""
    from django.utils import timezone

    rang = []
    monkeypatch.setattr(outbox, "outbox_ring", lambda: rang.append(1))
    now = timezone.now()

    def row(key, due):
        return Delivery(
            channel=Channel.SMS,
            key=key,
            kind="other",
            address="13800138000",
            payload={"text": key},
            created_at=now,
            next_attempt_at=due,
        )

    with transaction.atomic():
        deliveries_enqueue([row("later", now + timedelta(seconds=60))])
    assert rang == []
    with transaction.atomic():
        deliveries_enqueue([row("later2", now + timedelta(seconds=60)), row("now", None)])
    assert rang == [1]
    assert outbox_relay(now=now).sent == 1
    assert sms.keys == ["now"]
    assert outbox_relay(now=now + timedelta(seconds=61)).sent == 2
    assert sorted(sms.keys) == ["later", "later2", "now"]
    assert outbox_relay(now=now + timedelta(seconds=120)).claimed == 0


def test_backlog_counts_due_rows_only(db, sms):
    rows(3)
    outbox._claim(now=T0, size=1)  # one in flight
    Delivery.objects.filter(key="k2").update(next_attempt_at=T0 + timedelta(minutes=5))
    assert outbox_backlog(now=T0) == 1
    assert outbox_backlog(now=T0, channel=Channel.EMAIL) == 0


def test_relay_queries_do_not_grow_per_row_beyond_its_own_writes(
    db, sms, django_assert_max_num_queries
):
    rows(20)
    # Per batch: the claim (a locked select and one update; without row locks, an update per
    # row) in a savepoint; per row: the attempt and the mark; then the empty claim that ends it.
    per_row = (2 if is_postgres() else 3) + 2  # + the savepoint around attempt and mark
    with django_assert_max_num_queries(4 + per_row * 20 + 3):
        assert outbox_relay(now=T0).sent == 20


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_relays_never_hold_the_same_row(sms, settings, monkeypatch):
    """SKIP LOCKED: four relays started together share 200 rows without overlap."""
    import time

    from django.db import connection

    monkeypatch.setattr(outbox, "outbox_ring", lambda: None)  # the relays below do the work
    sms.fail = lambda d: time.sleep(0.002)
    settings.OUTBOX_RELAY_BATCH = 10
    rows(200)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def relay():
        try:
            barrier.wait()
            results.append(outbox_relay(now=T0))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(sms.keys) == sorted(f"k{i}" for i in range(200))  # each exactly once
    assert sum(r.sent for r in results) == 200
    assert sum(1 for r in results if r.sent) >= 2  # the work was actually shared
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}
