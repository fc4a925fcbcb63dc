"""/metrics: Prometheus text with the sweep lag, the outbox backlog and failed deliveries,
read from the database at scrape time; only for the allowed addresses or the token."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import JobRun
from notifications.models import Delivery, WebhookEndpoint
from sla.engine import SWEEP_JOB

pytestmark = pytest.mark.django_db


def scrape(client, **extra) -> dict:
    resp = client.get("/metrics", **extra)
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.content.decode())
        for s in family.samples
    }


@pytest.fixture
def deliveries(cast):
    """Outbox rows: webhooks 2 due + 1 waiting for a retry + 1 failed + 1 sent; e-mail 2 due
    + 1 failed."""
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(name="crm", url="https://crm.invalid/", secret="x")
    rows = [
        ("webhook", "pending", now - timedelta(seconds=5)),
        ("webhook", "pending", now - timedelta(seconds=5)),
        ("webhook", "failed", None),
        ("webhook", "sent", None),
        ("email", "pending", now - timedelta(seconds=5)),
        ("email", "pending", now - timedelta(seconds=5)),
        ("email", "pending", now + timedelta(minutes=5)),  # waiting for a retry: not due
        ("email", "failed", None),
    ]
    for i, (channel, status, due) in enumerate(rows):
        Delivery.objects.create(
            channel=channel,
            endpoint=endpoint if channel == "webhook" else None,
            key=f"k{i}",
            kind="remind",
            payload={},
            status=status,
            created_at=now,
            next_attempt_at=due,
        )


def test_metrics_expose_sweep_lag_backlog_and_failures(client, deliveries):
    JobRun.objects.create(
        name=SWEEP_JOB,
        last_success_at=timezone.now() - timedelta(seconds=90),
        last_duration_seconds=1.5,
        runs=7,
        skipped=2,
    )
    m = scrape(client)
    assert 90 <= m[("whistle_sla_sweep_lag_seconds", ())] < 120
    assert m[("whistle_sla_sweep_duration_seconds", ())] == 1.5
    assert m[("whistle_outbox_backlog", (("channel", "webhook"),))] == 2
    assert m[("whistle_outbox_backlog", (("channel", "email"),))] == 2  # due now
    assert m[("whistle_deliveries_failed", (("channel", "webhook"),))] == 1
    assert m[("whistle_deliveries_failed", (("channel", "email"),))] == 1
    assert m[("whistle_job_skipped_total", (("job", SWEEP_JOB),))] == 2
    assert m[("whistle_job_runs_total", (("job", SWEEP_JOB),))] == 7
    assert ("whistle_sla_clocks_due", ()) in m


def test_sweep_lag_is_infinite_before_the_first_sweep(client):
    assert scrape(client)[("whistle_sla_sweep_lag_seconds", ())] == float("inf")


def test_a_scrape_costs_a_fixed_number_of_queries(
    client, deliveries, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        scrape(client)


def test_other_addresses_get_not_found(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1", "10.8.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.9.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.8.3.4").status_code == 200


def test_the_token_opens_metrics_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    outside = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.get("/metrics", **outside).status_code == 404
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope", **outside)
    assert wrong.status_code == 404
    scrape(client, HTTP_AUTHORIZATION="Bearer scrape-token", **outside)
