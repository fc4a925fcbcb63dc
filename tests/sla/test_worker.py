"""A real Celery worker (with beat) in a subprocess, on the same database as the test: an
order that has breached gets its 督办 notification without anyone calling the sweep."""

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from notifications.models import Notification
from tests.factories import Cast, ticket_in_state
from workorders.models import State

REDIS_URL = os.environ.get("WHISTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
WAIT_SECONDS = 120


def redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(tmp_path: Path, broker: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(
        DEBUG="1",
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER="0",
        SLA_SWEEP_SECONDS="2",
        WHISTLE_VAR_DIR=str(tmp_path / "var"),
        NOTIFY_EMAIL="0",
    )
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--pool=solo",
            "--loglevel=INFO",
            "-s",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


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
                ticket=t, kind="supervise", recipient=cast.supervisor
            ).first()
            if found:
                break
            time.sleep(0.5)
    finally:
        stop(proc)
    log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert found is not None, f"no notification within {WAIT_SECONDS}s; worker log:\n{log}"
    assert t.number in found.title
    assert "sla.tasks.sla_sweep_task" in log
