"""Daily and weekly reports: a workbook with the expected sheets, one email per recipient."""

import io

import openpyxl
import pytest
import time_machine
from django.conf import settings
from django.core import mail

from notifications.outbox import outbox_relay
from reports.models import ReportFile, ReportRecipient
from reports.services import report_build_and_send
from reports.tasks import send_weekly_report

from .conftest import h

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipients(cast):
    ReportRecipient.objects.create(email="a@example.com", frequency="daily")
    ReportRecipient.objects.create(email="b@example.com", frequency="daily")
    ReportRecipient.objects.create(
        department=cast.network, email="n@example.com", frequency="daily"
    )
    ReportRecipient.objects.create(email="w@example.com", frequency="weekly")
    ReportRecipient.objects.create(email="off@example.com", frequency="daily", is_active=False)


def workbook(message):
    ((name, content, mimetype),) = message.attachments
    assert name.endswith(".xlsx") and "spreadsheetml" in mimetype
    return openpyxl.load_workbook(io.BytesIO(content))


def test_daily_report_workbook_and_one_email_per_recipient(world, cast, recipients, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    files = report_build_and_send(frequency="daily", now=h(24 - 1.5))  # 11-03 07:30
    outbox_relay()  # the mails are outbox rows; the relay sends them
    assert sorted(f.period_start.isoformat() for f in files) == ["2026-11-02"] * 2
    assert sorted(m.to[0] for m in mail.outbox) == [
        "a@example.com",
        "b@example.com",
        "n@example.com",
    ]
    assert all(len(m.to) == 1 for m in mail.outbox)
    by_to = {m.to[0]: m for m in mail.outbox}
    wb = workbook(by_to["a@example.com"])
    assert wb.sheetnames == ["指标汇总", "部门排名", "工单"]
    summary = {r[0]: r[1:] for r in wb["指标汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["受理量"][0] == 8  # o1..o8 reported on 11-02
    assert summary["限时办结率"] == (3, 3, 100.0)  # o1, o5, o6 closed on 11-02, all on time
    orders = list(wb["工单"].iter_rows(min_row=2, values_only=True))
    assert len(orders) == 8
    net = workbook(by_to["n@example.com"])
    numbers = {r[0] for r in net["工单"].iter_rows(min_row=2, values_only=True)}
    assert numbers == {world[f"o{i}"].number for i in (1, 3, 4, 5, 6, 7)}
    assert "网络保障" in by_to["n@example.com"].subject


def test_running_twice_sends_nothing_more(world, recipients, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    report_build_and_send(frequency="daily", now=h(24))
    report_build_and_send(frequency="daily", now=h(24))
    outbox_relay()
    outbox_relay()
    assert len(mail.outbox) == 3
    assert ReportFile.objects.count() == 2


def test_weekly_task_covers_last_week(world, recipients, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(h(24 * 7 - 1), tick=False):  # Monday 11-09 08:00
        send_weekly_report.delay()
        outbox_relay()
    (msg,) = mail.outbox
    assert msg.to == ["w@example.com"]
    wb = workbook(msg)
    summary = {r[0]: r[1:] for r in wb["指标汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["统计周期"][0] == "2026-11-02 ~ 2026-11-08"
    assert summary["限时办结率"] == (4, 6, 66.7)


def test_beat_schedule_from_settings():
    daily = settings.CELERY_BEAT_SCHEDULE["reports-daily"]
    assert daily["task"] == "reports.tasks.send_daily_report"
    assert daily["schedule"].hour == {7} and daily["schedule"].minute == {30}
    weekly = settings.CELERY_BEAT_SCHEDULE["reports-weekly"]["schedule"]
    assert weekly.day_of_week == {1} and weekly.hour == {8}


def test_report_mails_wait_in_the_outbox_while_the_mail_server_fails(
    world, cast, recipients, settings, monkeypatch
):
    """Given a daily run whose mail server refuses, when the relay runs again later, then every
    recipient gets the workbook once: the mails were outbox rows, not lost sends."""
    from datetime import timedelta
    from smtplib import SMTPException

    from django.core.mail.backends.locmem import EmailBackend
    from django.utils import timezone

    from notifications.models import Delivery

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    report_build_and_send(frequency="daily", now=h(24))

    def refuse(self, messages):
        raise SMTPException("451 try again later")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    outbox_relay()
    rows = Delivery.objects.filter(kind="report")
    assert mail.outbox == []
    assert sorted(rows.values_list("status", "attempts")) == [("pending", 1)] * 3

    monkeypatch.undo()
    outbox_relay(now=timezone.now() + timedelta(hours=1))
    outbox_relay(now=timezone.now() + timedelta(hours=2))
    assert sorted(m.to[0] for m in mail.outbox) == [
        "a@example.com",
        "b@example.com",
        "n@example.com",
    ]
    assert all(workbook(m).sheetnames == ["指标汇总", "部门排名", "工单"] for m in mail.outbox)
    assert set(rows.values_list("status", flat=True)) == {"sent"}
