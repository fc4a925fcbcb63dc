"""The API's failed-login throttle holds across processes and under parallel guessing, and a
cache outage does not take logins down.

- Two real gunicorn processes on one Redis cache: failures made through process B count in
  process A (with a per-process cache, two workers allowed twice the limit).
- Parallel guesses (threads released together by a barrier) cannot all pass the check before
  any is counted: exactly the limit gets through, on the local-memory cache and on Redis.
- With the cache unreachable, the API still answers logins (the lockout in the database still
  guards passwords)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
import requests
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from gunicorn.config import KNOWN_SETTINGS

from api.throttling import LoginFailureThrottle
from tests.factories import PASSWORD, Cast

REDIS_URL = os.environ.get("WHISTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
TOKEN = "/api/v1/auth/token/"


def redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_reachable(REDIS_URL),
    reason=f"no Redis reachable at {REDIS_URL} (set WHISTLE_TEST_REDIS_URL)",
)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


HAS_CONTROL_SOCKET = any(s.name == "control_socket" for s in KNOWN_SETTINGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn process (one worker) serving the project on its own port."""

    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 (closed with the process)
        command = [sys.executable, "-m", "gunicorn", "config.wsgi"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--workers", "1"]
        if HAS_CONTROL_SOCKET:  # newer gunicorn: one per server, not a shared default path
            command += ["--control-socket", str(tmp_path / f"{name}.ctl")]
        self.proc = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                requests.get(self.url + "/api/v1/ping/", timeout=10)
                return
            except requests.RequestException:  # not listening yet, or the worker still booting
                time.sleep(0.2)
        raise AssertionError(f"{self.url} did not start:\n{self.log()}")

    def login(self, username: str, password: str) -> int:
        r = requests.post(
            self.url + TOKEN, json={"username": username, "password": password}, timeout=10
        )
        return r.status_code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@needs_redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_failures_through_one_process_count_in_the_other(tmp_path, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    Cast()
    env = dict(os.environ)  # keeps PYTEST_VERSION: the same (fast) password hasher as here
    env.update(
        DATABASE_URL=database_url(),
        CACHE_URL=REDIS_URL,
        CACHE_KEY_PREFIX=f"whistle-test-{uuid.uuid4().hex}",
        WHISTLE_VAR_DIR=str(tmp_path / "var"),
        API_THROTTLE_LOGIN="5/minute",
        API_THROTTLE_LOGIN_IP="100/minute",
        API_THROTTLE_ANON="1000/minute",
        LOGIN_FAILURE_LIMIT="1000",  # the database lockout out of the way: the cache alone
    )
    a, b = Server("a", tmp_path, env), Server("b", tmp_path, env)
    try:
        a.wait_ready()
        b.wait_ready()
        through_a = [a.login("t_disp", "wrong") for _ in range(3)]
        through_b = [b.login("t_disp", "wrong") for _ in range(2)]
        # A has seen three failures itself; the two made through B stop it now.
        sixth_via_a = a.login("t_disp", "wrong")
        right_via_a = a.login("t_disp", PASSWORD)
        right_via_b = b.login("t_disp", PASSWORD)
        other_user_via_a = a.login("t_lead", PASSWORD)
    finally:
        a.stop()
        b.stop()

    assert through_a == [400, 400, 400] and through_b == [400, 400], (a.log(), b.log())
    assert sixth_via_a == 429
    assert right_via_a == 429 and right_via_b == 429
    assert other_user_via_a == 200


def parallel_guesses(throttle: LoginFailureThrottle, rf, n: int) -> list[float | None]:
    barrier = threading.Barrier(n)
    results: list[float | None] = [None] * n

    def guess(i: int) -> None:
        request = rf.post(TOKEN, REMOTE_ADDR="10.1.1.1")
        barrier.wait()
        results[i] = throttle.take(request, "victim")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.parametrize(
    "backend",
    ["locmem", pytest.param("redis", marks=needs_redis)],
)
def test_parallel_guesses_cannot_all_slip_past_the_check(backend, rf, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login": "5/minute"}
    prefix = f"whistle-test-{uuid.uuid4().hex}"
    if backend == "redis":
        cache = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})
    else:
        cache = LocMemCache(prefix, {})
    throttle = LoginFailureThrottle("login")
    throttle.cache = cache
    key = throttle.key_for(rf.post(TOKEN, REMOTE_ADDR="10.1.1.1"), "victim")
    try:
        results = parallel_guesses(throttle, rf, 20)
    finally:
        cache.delete_many([key, f"{key}:since"])

    let_through = [r for r in results if r is None]
    assert len(let_through) == 5
    assert all(0 < r <= 61 for r in results if r is not None)  # Retry-After: the window


@pytest.mark.django_db
def test_logins_still_work_when_the_cache_is_unreachable(cast, settings, caplog):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    from rest_framework.test import APIClient

    client = APIClient()
    wrong = client.post(TOKEN, {"username": "t_disp", "password": "x"}, format="json")
    right = client.post(TOKEN, {"username": "t_disp", "password": PASSWORD}, format="json")

    assert wrong.status_code == 400 and right.status_code == 200
    assert any("cache is unreachable" in r.getMessage() for r in caplog.records)
