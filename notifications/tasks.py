"""Thin tasks on the `notify` queue, safe to run twice or in parallel (the relay claims rows)."""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from .outbox import outbox_relay, outbox_ring

TRANSIENT = (OperationalError, InterfaceError)
# The relay stops claiming after its budget; the slowest single send (connect + read timeout,
# or the SMTP timeout) must still fit before the soft limit.
_SOFT_LIMIT = settings.OUTBOX_RELAY_BUDGET_SECONDS + settings.OUTBOX_LEASE_SECONDS


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
    soft_time_limit=_SOFT_LIMIT,
    time_limit=_SOFT_LIMIT + 30,
)
def outbox_relay_task() -> dict:
    """Rung after every commit that wrote deliveries, and by beat as the safety net."""
    result = outbox_relay()
    if result.more:
        outbox_ring()
    return result.as_dict()


@shared_task(ignore_result=True)
def sms_counts_prune_task() -> int:
    """Daily: forget the SMS cap's counts of past days."""
    from .sms_channel import sms_counts_prune

    return sms_counts_prune()


@shared_task(ignore_result=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def notification_digest_task() -> int:
    """Daily (beat, NOTIFY_DIGEST_CRON): each back-office user's digest, once per day."""
    from .digest import notification_digest_send

    return notification_digest_send()
