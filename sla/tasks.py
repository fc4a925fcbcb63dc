"""Thin tasks: one service call each. The sweep is safe to run twice or in parallel."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .engine import sla_sweep


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=3,
    soft_time_limit=240,
    time_limit=300,
)
def sla_sweep_task() -> dict:
    return sla_sweep().as_dict()
