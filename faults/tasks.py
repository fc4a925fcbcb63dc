"""Thin tasks: one service call each. Detection is safe to run twice or in parallel."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .detection import fault_detect


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=3,
    soft_time_limit=240,
    time_limit=300,
)
def fault_detect_task() -> dict:
    return fault_detect().as_dict()
