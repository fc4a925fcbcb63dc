"""Thin tasks: one service call each. The sweep is safe to run twice or in parallel (a second
sweep started while one runs returns at once, `skipped`)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .engine import SWEEP_TIME_LIMIT, sla_sweep


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=3,
    soft_time_limit=SWEEP_TIME_LIMIT - 60,
    time_limit=SWEEP_TIME_LIMIT,
)
def sla_sweep_task() -> dict:
    return sla_sweep().as_dict()
