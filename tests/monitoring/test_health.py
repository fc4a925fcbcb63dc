"""/health/live/ and /health/ready/: what a load balancer asks. Ready answers 200 when the
database, the cache, the broker and the SLA sweep are fine, and 503 naming what is not."""

from datetime import timedelta

import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from jobs.models import JobRun
from sla.engine import SWEEP_JOB

pytestmark = pytest.mark.django_db

CLOSED_PORT = 1  # nothing listens there: connections are refused at once


@pytest.fixture(autouse=True)
def _broker_up(settings):
    """An in-process broker that is always there (the run's own broker may be a Redis that is
    not running); the broker tests below point at a real or a closed one."""
    settings.CELERY_BROKER_URL = "memory://"


@pytest.fixture
def swept():
    """A sweep completed a moment ago."""
    return JobRun.objects.create(name=SWEEP_JOB, last_success_at=timezone.now())


def ready(client):
    resp = client.get("/health/ready/")
    return resp.status_code, resp.json()


def test_live_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        resp = client.get("/health/live/")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    assert "no-cache" in resp["Cache-Control"]


def test_ready_when_everything_is_up(client, swept):
    status, body = ready(client)
    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "sla_sweep": "ok"},
    }


def test_unavailable_when_the_database_refuses_connections(client, swept, monkeypatch):
    def refuse(self, conn_params):
        raise OperationalError("connection refused")

    # New connections fail (the probe opens its own); the test's open one stays usable.
    monkeypatch.setattr(type(connections["default"]), "get_new_connection", refuse)
    status, body = ready(client)
    assert status == 503
    assert body["failed"] == ["database"]
    assert body["checks"]["database"].startswith("Unavailable")


def test_unavailable_when_the_broker_is_unreachable(client, swept, settings):
    settings.CELERY_BROKER_URL = f"redis://:s3cret-pw@127.0.0.1:{CLOSED_PORT}/6"
    resp = client.get("/health/ready/")
    assert resp.status_code == 503
    body = resp.json()
    assert body["failed"] == ["broker"]
    assert (
        body["checks"]["broker"] == "Unavailable: cannot connect to the broker (OperationalError)"
    )
    assert b"s3cret" not in resp.content and b"redis://" not in resp.content


def test_ready_with_a_real_redis_broker(client, swept, settings):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, db=6, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/6"
    assert ready(client)[0] == 200


def test_unavailable_when_the_cache_is_unreachable(client, swept, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/6",
        }
    }
    status, body = ready(client)
    assert status == 503
    assert body["failed"] == ["cache"]


def test_unavailable_when_the_last_sweep_is_older_than_the_limit(client, swept, settings):
    settings.HEALTH_SWEEP_MAX_AGE_SECONDS = 180
    JobRun.objects.filter(pk=swept.pk).update(
        last_success_at=timezone.now() - timedelta(seconds=181)
    )
    status, body = ready(client)
    assert status == 503
    assert body["failed"] == ["sla_sweep"]
    assert body["checks"]["sla_sweep"].startswith("Unavailable: last SLA sweep completed 18")
    assert body["checks"]["sla_sweep"].endswith("s ago (limit 180 s)")

    JobRun.objects.filter(pk=swept.pk).update(
        last_success_at=timezone.now() - timedelta(seconds=170)
    )
    assert ready(client)[0] == 200


def test_unavailable_when_no_sweep_has_ever_completed(client):
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["sla_sweep"] == "Unavailable: no SLA sweep has completed yet"


def test_the_sweep_age_check_can_be_turned_off(client, settings):
    settings.HEALTH_SWEEP_MAX_AGE_SECONDS = 0
    assert ready(client)[0] == 200
