"""Thin tasks: an id in, one service call. Safe to run twice (the services claim their work)."""

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(*TRANSIENT, SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def notification_email_task(self, notification_id: int) -> bool:
    return services.notification_send_email(notification_id=notification_id)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=settings.WEBHOOK_MAX_ATTEMPTS + 5,
    soft_time_limit=settings.WEBHOOK_TIMEOUT_SECONDS + 30,
    time_limit=settings.WEBHOOK_TIMEOUT_SECONDS + 60,
)
def webhook_deliver_task(self, delivery_id: int) -> str | None:
    result = services.webhook_deliver(delivery_id=delivery_id)
    if result is not None and result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status if result else None


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def webhooks_requeue_task() -> int:
    return services.webhooks_requeue()
