"""Readiness probes beyond django-health-check's own (database, cache): the Celery broker and
the age of the last completed SLA sweep. Messages are shown to anyone: no URLs, no secrets."""

from __future__ import annotations

import dataclasses
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from jobs.selectors import last_success
from sla.engine import SWEEP_JOB

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Broker(HealthCheck):
    """The broker accepts a connection (no worker needs to answer: that is the metrics' and
    the sweep check's business)."""

    def run(self) -> None:
        from config.celery import app

        seconds = self.timeout.total_seconds()
        try:
            # The URL the settings give Celery (Celery itself would let the environment win).
            url = settings.CELERY_BROKER_URL
            with app.connection_for_write(url, connect_timeout=seconds) as conn:
                conn.ensure_connection(max_retries=0, timeout=seconds)
        except Exception as exc:
            log.warning("broker check failed: %s", exc)
            raise ServiceUnavailable(
                f"cannot connect to the broker ({type(exc).__name__})"
            ) from exc


@dataclasses.dataclass
class SlaSweep(HealthCheck):
    """The last SLA sweep completed within HEALTH_SWEEP_MAX_AGE_SECONDS (beat and a worker
    are running and keep up)."""

    async def run(self) -> None:
        limit = settings.HEALTH_SWEEP_MAX_AGE_SECONDS
        if limit <= 0:
            return
        # On the request's thread: the same database connection as the rest of the request.
        last = await sync_to_async(last_success)(SWEEP_JOB)
        if last is None:
            raise ServiceUnavailable("no SLA sweep has completed yet")
        age = (timezone.now() - last).total_seconds()
        if age > limit:
            raise ServiceUnavailable(f"last SLA sweep completed {age:.0f} s ago (limit {limit} s)")
