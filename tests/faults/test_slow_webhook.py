"""A webhook receiver that hangs does not delay the SLA sweep: the sweep runs on its own queue
(its own worker) and only writes outbox rows; the relay, on the `notify` queue, gives up on each
POST after the connect/read timeout."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Channel, Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.outbox import deliveries_enqueue
from sla.models import SlaEvent
from tests.factories import Cast, ticket_in_state
from tests.workers import kill, log_tail, start_worker, stop, wait_for
from workorders.models import State

SWEEP_SECONDS = 2
READ_TIMEOUT = 1
HANG_SECONDS = 30
LOAD = 40  # deliveries to the hanging receiver: ~40 s of work for the notify worker


def worker_ready(tmp_path, name: str) -> bool:
    log = tmp_path / f"{name}.log"
    return log.exists() and " ready." in log.read_text(errors="replace")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_hanging_receiver_does_not_delay_the_sweep(redis_url, receiver, no_doorbell, tmp_path):
    # Given a receiver that hangs far longer than the read timeout, with a backlog for it …
    receiver.delay = HANG_SECONDS
    cast = Cast()
    endpoint = WebhookEndpoint.objects.create(name="slow", url=receiver.url, secret="s")
    now = timezone.now()
    deliveries_enqueue(
        Delivery(
            channel=Channel.WEBHOOK,
            endpoint=endpoint,
            key=f"load:{i}",
            kind="other",
            payload={"event": "test.load", "i": i},
            created_at=now,
        )
        for i in range(LOAD)
    )
    # … a worker for the sweep (with beat) and one for notifications, as in production.
    env = {
        "SLA_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "OUTBOX_RELAY_SECONDS": "1",
        "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
        "WEBHOOK_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }
    sla = start_worker(tmp_path, redis_url, name="sla", queues="sla", env=env)
    notify = start_worker(
        tmp_path, redis_url, name="notify", queues="notify,reports,celery", beat=False, env=env
    )
    procs = [sla, notify]
    try:
        ready = wait_for(
            lambda: worker_ready(tmp_path, "sla") and worker_ready(tmp_path, "notify"),
            timeout=60,
            procs=procs,
        )
        assert ready, log_tail(tmp_path, "sla") + log_tail(tmp_path, "notify")
        # The notify worker is busy with the hanging receiver.
        assert wait_for(lambda: len(receiver.requests) >= 2, timeout=30, procs=procs)

        # When an order's reminder threshold passes a few seconds from now …
        threshold = timezone.now() + timedelta(seconds=6)
        ticket = ticket_in_state(
            cast, State.ACCEPTED, now=threshold - timedelta(hours=24)
        )  # the 48 h promise: 50 % after 24 h
        clock = ticket.clocks.get(kind="promise")

        def reminded():
            return SlaEvent.objects.filter(clock=clock, level=1).first()

        event = wait_for(reminded, timeout=60, procs=procs)
        backlog = Delivery.objects.filter(key__startswith="load:", status="pending").count()
        load_attempts = list(
            DeliveryAttempt.objects.filter(delivery__key__startswith="load:").values_list(
                "error", "duration_ms"
            )
        )
    finally:
        stop(sla)
        kill(notify)  # a warm shutdown would wait for the relay run to spend its budget

    # Then the sweep noticed it within its interval (plus scheduling slack) …
    assert event is not None, log_tail(tmp_path, "sla")
    lag = (event.recorded_at - event.threshold_at).total_seconds()
    assert abs(event.threshold_at - threshold) < timedelta(seconds=1)
    assert 0 <= lag <= SWEEP_SECONDS + 3, f"sweep ran {lag:.1f} s after the threshold"
    # … while the notify worker was still working through the hanging receiver's backlog,
    # each POST given up after the read timeout.
    assert backlog > 0
    assert load_attempts and all(error == "timeout" for error, _ms in load_attempts)
    assert max(ms for _e, ms in load_attempts) < (READ_TIMEOUT + 1.5) * 1000
    print(
        f"\nsweep lag {lag:.2f} s; load still pending {backlog}/{LOAD}; "
        f"{len(load_attempts)} timed-out POSTs"
    )
