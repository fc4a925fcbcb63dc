"""jobs.locks.run_once: one run of a job at a time; the run's end is recorded."""

import os
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.locks import lock_key, run_once
from jobs.models import JobRun
from tests.conftest import requires_postgres

LEASE = timedelta(minutes=5)


def test_lock_key_is_stable_and_differs_per_job():
    assert lock_key("sla_sweep") == lock_key("sla_sweep")
    assert lock_key("sla_sweep") != lock_key("reports.daily")
    assert -(2**63) <= lock_key("sla_sweep") < 2**63


@pytest.mark.django_db
def test_a_completed_run_is_recorded():
    before = timezone.now()
    with run_once("job", lease=LEASE) as mine:
        assert mine
        assert JobRun.objects.get(name="job").running_since is not None
    run = JobRun.objects.get(name="job")
    assert run.running_since is None
    assert run.last_success_at >= before and run.last_duration_seconds >= 0
    assert (run.runs, run.skipped) == (1, 0)


@pytest.mark.django_db
def test_a_failed_run_is_recorded_and_releases_the_job():
    with pytest.raises(ValueError), run_once("job", lease=LEASE):
        raise ValueError("boom")
    run = JobRun.objects.get(name="job")
    assert run.last_failed_at is not None and run.last_error == "ValueError: boom"
    assert run.last_success_at is None and run.running_since is None
    with run_once("job", lease=LEASE) as mine:
        assert mine


@pytest.mark.django_db
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="PostgreSQL holds the job with an advisory lock, not with the row's claim",
)
def test_sqlite_claim_holds_the_job_until_its_lease_ends():
    now = timezone.now()
    JobRun.objects.create(name="job", running_since=now - timedelta(minutes=1))
    with run_once("job", lease=LEASE) as mine:
        assert not mine
    assert JobRun.objects.get(name="job").skipped == 1
    # The claimant died long ago: its lease is over and the next run takes the job.
    JobRun.objects.filter(name="job").update(running_since=now - LEASE - timedelta(seconds=1))
    with run_once("job", lease=LEASE) as mine:
        assert mine


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_started_while_another_holds_the_job_does_nothing():
    """Two workers (two database sessions): the second finds the advisory lock taken."""
    holding, done = threading.Event(), threading.Event()
    seen = {}

    def first():
        try:
            with run_once("job", lease=LEASE) as mine:
                seen["first"] = mine
                holding.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    def second():
        try:
            holding.wait(timeout=30)
            with run_once("job", lease=LEASE) as mine:
                seen["second"] = mine
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert seen == {"first": True, "second": False}
    run = JobRun.objects.get(name="job")
    assert (run.runs, run.skipped) == (1, 1)
    # Released at the end: the next run gets the job.
    with run_once("job", lease=LEASE) as mine:
        assert mine


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_that_dies_releases_the_job_with_its_connection():
    def crash():
        # Takes the job and its session ends without the run finishing (a killed process).
        JobRun.objects.create(name="job")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key("job")])
        connection.close()

    t = threading.Thread(target=crash)
    t.start()
    t.join(timeout=30)
    # The server drops the session's locks as soon as it notices the disconnect.
    deadline = time.monotonic() + 10
    while True:
        with run_once("job", lease=LEASE) as mine:
            if mine or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    assert mine
