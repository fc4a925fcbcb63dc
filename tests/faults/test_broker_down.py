"""Broker down: a committed change is never an error for the user, and its e-mail and
webhooks wait in the outbox until a relay sends them — once each — when the broker is back."""

import shutil
import subprocess
import time

import pytest
from django.core import mail

from notifications.models import Delivery, WebhookEndpoint
from notifications.outbox import outbox_relay
from notifications.selectors import outbox_backlog
from tests.factories import Cast
from tests.faults.conftest import api_client, celery_broker
from tests.workers import (
    closed_port,
    log_tail,
    redis_reachable,
    start_worker,
    stop,
    wait_for,
)
from workorders.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
REDIS_SERVER = shutil.which("redis-server")


def create_and_dispatch(cast) -> tuple:
    """The API calls of the issue: report an order, dispatch it. Returns both responses."""
    created = api_client(cast.frontline).post(
        "/api/v1/tickets/",
        {
            "category": cast.category.pk,
            "customer_phone": "13912345678",
            "description": "家里宽带每晚掉线",
            "channel": "field",
        },
        format="json",
    )
    number = created.json().get("number")
    dispatched = api_client(cast.dispatcher).post(
        f"/api/v1/tickets/{number}/transitions/dispatch/",
        {"department": cast.network.pk},
        format="json",
    )
    return created, dispatched


@pytest.fixture
def cast_with_mail(receiver):
    cast = Cast()
    cast.frontline.email = "front@example.com"  # the reporter hears of the dispatch
    cast.frontline.save()
    WebhookEndpoint.objects.create(name="ops", url=receiver.url, secret="s3cret")
    return cast


def test_api_answers_while_the_broker_is_down_and_the_relay_sends_once_later(
    cast_with_mail, receiver, settings, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cast = cast_with_mail
    with celery_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        created, dispatched = create_and_dispatch(cast)
        took = time.monotonic() - started

    # Given the broker is down, when the order is reported and dispatched, then both answer
    # as usual (this was a 500 after the commit, and a 409 on retry) …
    assert created.status_code == 201, created.content[:300]
    assert dispatched.status_code == 200, dispatched.content[:300]
    assert Ticket.objects.get(number=created.json()["number"]).state == "dispatched"
    assert "could not ring the relay" in caplog.text
    assert took < 10  # a refused connection fails fast; nothing waits for the broker
    # … and the e-mail and the webhook wait in the outbox, nothing sent yet.
    # (The customer's text of the dispatch waits too, for its coalescing window: not counted.)
    staff = Delivery.objects.filter(channel__in=["email", "webhook"])
    rows = {d.channel: d for d in staff.filter(kind="dispatched")}
    assert set(rows) == {"email", "webhook"}
    assert {d.status for d in rows.values()} == {"pending"}
    assert mail.outbox == [] and receiver.requests == []
    assert outbox_backlog() == 2

    # When the broker is back the periodic relay runs: each is sent exactly once.
    first, second = outbox_relay(), outbox_relay()
    assert (first.sent, second.claimed) == (2, 0)
    assert [m.extra_headers["X-Whistle-Delivery"] for m in mail.outbox] == [rows["email"].key]
    assert mail.outbox[0].to == ["front@example.com"]
    assert receiver.keys() == {rows["webhook"].key: 1}
    assert set(staff.values_list("status", flat=True)) == {"sent"}


def test_a_real_worker_sends_what_waited_once_the_broker_is_back(
    cast_with_mail, receiver, mail_sink, redis_url, tmp_path
):
    """End to end: rows written while the broker was down are sent by a worker started on the
    (now reachable) broker, with nobody calling the relay: beat's relay picks them up."""
    cast = cast_with_mail
    with celery_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        created, dispatched = create_and_dispatch(cast)
    assert (created.status_code, dispatched.status_code) == (201, 200)
    # (The customer's text of the dispatch waits too, for its coalescing window: not counted.)
    staff = Delivery.objects.filter(channel__in=["email", "webhook"])
    rows = {d.channel: d for d in staff.filter(kind="dispatched")}
    assert {d.status for d in rows.values()} == {"pending"}

    proc = start_worker(
        tmp_path,
        redis_url,
        env={
            "NOTIFY_EMAIL": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "OUTBOX_RELAY_SECONDS": "1",
        },
    )
    try:
        done = wait_for(
            lambda: not staff.exclude(status="sent").exists(),
            timeout=90,
            procs=[proc],
        )
        time.sleep(3)  # a few more relay runs: nothing is sent twice
    finally:
        stop(proc)
    assert done, log_tail(tmp_path)
    assert mail_sink.keys() == {rows["email"].key: 1}
    assert receiver.keys() == {rows["webhook"].key: 1}


class PrivateRedis:
    """A Redis server of the test's own, to stop and start again (never the shared one)."""

    def __init__(self, tmp_path) -> None:
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(lambda: redis_reachable(self.url), timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.mark.skipif(not REDIS_SERVER, reason="needs the redis-server program (to stop and restart)")
def test_a_running_worker_recovers_when_its_broker_comes_back(
    cast_with_mail, receiver, mail_sink, tmp_path
):
    """The broker goes away under a running worker; changes made meanwhile answer normally;
    when the broker is back the worker reconnects by itself and sends what waited, once."""
    broker = PrivateRedis(tmp_path)
    broker.start()
    proc = start_worker(
        tmp_path,
        broker.url,
        env={
            "NOTIFY_EMAIL": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "OUTBOX_RELAY_SECONDS": "1",
        },
    )
    try:
        assert wait_for(lambda: " ready." in log_tail(tmp_path, chars=100000), timeout=60)
        broker.stop()
        with celery_broker(broker.url):
            created, dispatched = create_and_dispatch(cast_with_mail)
        assert (created.status_code, dispatched.status_code) == (201, 200)
        time.sleep(2)
        # (The customer's text of the dispatch waits too, for its coalescing window: not counted.)
        staff = Delivery.objects.filter(channel__in=["email", "webhook"])
        rows = {d.channel: d for d in staff.filter(kind="dispatched")}
        assert {d.status for d in rows.values()} == {"pending"}  # nothing could send them

        broker.start()
        done = wait_for(
            lambda: not staff.exclude(status="sent").exists(),
            timeout=120,
            procs=[proc],
        )
        time.sleep(3)
    finally:
        stop(proc)
        broker.stop()
    assert done, log_tail(tmp_path)
    assert mail_sink.keys() == {rows["email"].key: 1}
    assert receiver.keys() == {rows["webhook"].key: 1}
