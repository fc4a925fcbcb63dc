"""Prometheus metrics, computed at scrape time from the database with indexed counts."""

from __future__ import annotations

import math

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.selectors import job_runs
from notifications.selectors import deliveries_failed_by_channel, outbox_backlog_by_channel
from sla.engine import SWEEP_JOB
from sla.selectors import clocks_due_count


class WhistleCollector(Collector):
    def collect(self):
        now = timezone.now()
        runs = {run.name: run for run in job_runs()}

        sweep = runs.get(SWEEP_JOB)
        last = sweep.last_success_at if sweep else None
        lag = GaugeMetricFamily(
            "whistle_sla_sweep_lag_seconds",
            "Seconds since the last completed SLA sweep (+Inf when none has completed)",
        )
        lag.add_metric([], (now - last).total_seconds() if last else math.inf)
        yield lag
        duration = GaugeMetricFamily(
            "whistle_sla_sweep_duration_seconds", "How long the last completed SLA sweep took"
        )
        if sweep and sweep.last_duration_seconds is not None:
            duration.add_metric([], sweep.last_duration_seconds)
        yield duration
        due = GaugeMetricFamily(
            "whistle_sla_clocks_due", "Clocks whose next threshold has passed (sweep to do)"
        )
        due.add_metric([], clocks_due_count(now))
        yield due

        backlog = GaugeMetricFamily(
            "whistle_outbox_backlog",
            "Deliveries due to be sent now (outbox), by channel",
            labels=["channel"],
        )
        for channel, n in sorted(outbox_backlog_by_channel(now=now).items()):
            backlog.add_metric([channel], n)
        yield backlog
        failed = GaugeMetricFamily(
            "whistle_deliveries_failed",
            "Deliveries given up on (attempts exhausted or nowhere to send), by channel",
            labels=["channel"],
        )
        for channel, n in sorted(deliveries_failed_by_channel().items()):
            failed.add_metric([channel], n)
        yield failed

        success = GaugeMetricFamily(
            "whistle_job_last_success_timestamp_seconds",
            "When each background job last completed (Unix time)",
            labels=["job"],
        )
        running = GaugeMetricFamily(
            "whistle_job_running", "1 while a run of the job holds it", labels=["job"]
        )
        completed = CounterMetricFamily(
            "whistle_job_runs", "Completed runs of each background job", labels=["job"]
        )
        skipped = CounterMetricFamily(
            "whistle_job_skipped",
            "Runs that found the job already running and did nothing",
            labels=["job"],
        )
        for name, run in sorted(runs.items()):
            if run.last_success_at:
                success.add_metric([name], run.last_success_at.timestamp())
            running.add_metric([name], 1 if run.running_since else 0)
            completed.add_metric([name], run.runs)
            skipped.add_metric([name], run.skipped)
        yield from (success, running, completed, skipped)
