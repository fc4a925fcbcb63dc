"""Celery beat entry points for the scheduled reports (thin: one service call each)."""

from celery import shared_task

from .models import ReportFrequency
from .services import report_build_and_send


@shared_task
def send_daily_report() -> int:
    return len(report_build_and_send(frequency=ReportFrequency.DAILY))


@shared_task
def send_weekly_report() -> int:
    return len(report_build_and_send(frequency=ReportFrequency.WEEKLY))
