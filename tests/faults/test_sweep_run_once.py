"""The SLA sweep runs once at a time: a sweep started while one runs returns at once (and is
counted), and each completed sweep is recorded for the readiness check and the metrics."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.locks import run_once
from jobs.models import JobRun
from sla.engine import SWEEP_JOB, sla_sweep
from sla.models import SlaEvent
from tests.conftest import requires_postgres
from tests.factories import Cast
from tests.sla.conftest import bulk_due_orders


@pytest.mark.django_db
def test_a_completed_sweep_records_when_and_how_long(cast):
    before = timezone.now()
    bulk_due_orders(cast, 3, now=before, due=3)
    result = sla_sweep(now=before)
    assert result.events == 3 and not result.skipped
    run = JobRun.objects.get(name=SWEEP_JOB)
    assert run.last_success_at >= before and run.last_duration_seconds >= 0
    assert run.runs == 1 and run.running_since is None


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sweep_started_while_another_runs_returns_at_once(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    now = timezone.now()
    bulk_due_orders(Cast(), 20, now=now, due=20)
    running, finish = threading.Event(), threading.Event()
    second = {}

    def first_sweep():
        # Holds the sweep's job exactly as a long sweep on another worker does.
        try:
            with run_once(SWEEP_JOB, lease=timedelta(minutes=5)):
                running.set()
                finish.wait(timeout=30)
        finally:
            connection.close()

    def second_sweep():
        try:
            running.wait(timeout=30)
            second["result"] = sla_sweep(now=now)
        finally:
            finish.set()
            connection.close()

    threads = [threading.Thread(target=first_sweep), threading.Thread(target=second_sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert second["result"].skipped
    assert second["result"].events == 0
    assert SlaEvent.objects.count() == 0
    assert JobRun.objects.get(name=SWEEP_JOB).skipped == 1
    # Once the first is done, the next sweep does the work.
    assert sla_sweep(now=now).events == 20
