"""A real Celery worker (with beat) in a subprocess, on the same database as the test: an
order that has breached gets its 督办 notification without anyone calling the sweep."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from tests.factories import Cast, ticket_in_state
from tests.workers import REDIS_URL, log_tail, redis_reachable, start_worker, stop
from workorders.models import State

WAIT_SECONDS = 120


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_real_worker_and_beat_notify_a_breaching_order(broker, tmp_path, settings):
    if broker == "redis":
        if not redis_reachable(REDIS_URL):
            pytest.skip(f"no Redis reachable at {REDIS_URL}")
        broker_url = REDIS_URL
    else:
        # The embedded default: no server at all.
        broker_url = "filesystem://"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cast = Cast()
    # Reported 49 hours ago: the 48-hour promise has breached.
    t = ticket_in_state(cast, State.ACCEPTED, now=timezone.now() - timedelta(hours=49))
    proc = start_worker(tmp_path, broker_url)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        found = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = Notification.objects.filter(
                # The breach goes to those who answer for the order (its handler and leads).
                ticket=t,
                kind="supervise",
                recipient=cast.handler,
            ).first()
            if found:
                break
            time.sleep(0.5)
    finally:
        stop(proc)
    log = log_tail(tmp_path)
    assert found is not None, f"no notification within {WAIT_SECONDS}s; worker log:\n{log}"
    assert t.number in found.title
    assert "sla.tasks.sla_sweep_task" in log
