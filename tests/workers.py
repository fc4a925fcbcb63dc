"""Real Celery workers in subprocesses for the tests that need them, on the test's own database
(the test must commit: `django_db(transaction=True)`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

from django.conf import settings
from django.db import connection

REDIS_URL = os.environ.get("WHISTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def redis_reachable(url: str = REDIS_URL) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def closed_port() -> int:
    """A local TCP port with nothing listening on it (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(
    tmp_path: Path,
    broker: str,
    *,
    name: str = "worker",
    queues: str | None = None,
    beat: bool = True,
    pool: str = "solo",
    concurrency: int = 1,
    env: dict | None = None,
) -> subprocess.Popen:
    """`celery -A config worker` (with beat unless told otherwise) in its own process group,
    logging to `tmp_path/<name>.log`. Without `queues` it consumes every queue."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    environ.update(
        DEBUG="1",
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER="0",
        SLA_SWEEP_SECONDS="2",
        WHISTLE_VAR_DIR=str(tmp_path / "var"),
        NOTIFY_EMAIL="0",
    )
    environ.update(env or {})
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        f"--hostname={name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if queues:
        args.append(f"--queues={queues}")
    if beat:
        args += ["--beat", "-s", str(tmp_path / f"{name}-beat-schedule")]
    log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        args,
        cwd=settings.BASE_DIR,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill(proc)


def kill(proc: subprocess.Popen) -> None:
    """kill -9 the worker and every process it started (pool children, embedded beat)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def log_tail(tmp_path: Path, name: str = "worker", chars: int = 3000) -> str:
    path = tmp_path / f"{name}.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def wait_for(predicate, *, timeout: float, every: float = 0.2, procs=()):
    """Poll `predicate` until it returns something truthy, the time is up, or a worker died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if any(p.poll() is not None for p in procs):
            return predicate()
        time.sleep(every)
    return predicate()
