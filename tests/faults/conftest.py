"""Fault tests: the broker down, a worker killed, a receiver that hangs. The ones with real
workers need Redis (`WHISTLE_TEST_REDIS_URL`, default redis://127.0.0.1:6379/3) and skip with
the reason when it is not reachable."""

from contextlib import contextmanager

import pytest
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.celery import app as celery_app
from notifications import outbox
from tests.sinks import MailSink, Receiver
from tests.workers import REDIS_URL, redis_reachable


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_url():
    if not redis_reachable(REDIS_URL):
        pytest.skip(f"no Redis reachable at {REDIS_URL} (set WHISTLE_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.close()


@pytest.fixture
def mail_sink():
    sink = MailSink().start()
    yield sink
    sink.close()


@pytest.fixture
def no_doorbell(monkeypatch):
    """Rows written by the test wait for the workers' relay instead of being sent at once by
    the (eager, in tests) doorbell."""
    monkeypatch.setattr(outbox, "outbox_ring", lambda: None)


def _reset_connections() -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def celery_broker(url: str):
    """Publish this process's tasks to `url` for real (not eagerly), as the web process does in
    production, with the production settings' connect and socket timeouts."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.broker_transport_options)
    conf.broker_url = url
    conf.task_always_eager = False
    conf.broker_transport_options = {"socket_connect_timeout": 2, "socket_timeout": 3}
    _reset_connections()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager, conf.broker_transport_options = saved
        _reset_connections()


def api_client(user) -> APIClient:
    client = APIClient(raise_request_exception=False)
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def bulk_users(n: int, prefix: str = "bulk"):
    """`n` active users with e-mail addresses, inserted in one statement."""
    from accounts.models import Department, User

    network = Department.objects.get(code="network")
    password = make_password(None)
    return User.objects.bulk_create(
        [
            User(
                username=f"{prefix}{i}",
                email=f"{prefix}{i}@example.com",
                department=network,
                password=password,
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
