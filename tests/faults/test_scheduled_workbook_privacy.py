"""Issue 6 (scheduled part): the 日报/周报 workbooks were built as "the system sees everything"
and mailed customers' full phone numbers to auditors and supervisors, who may not see them.
Now every recipient not allowed full numbers gets a masked workbook, and a full-number file
is neither mailed nor downloadable to anyone else."""

import io
import re

import openpyxl
import pytest
from django.core import mail

from notifications.outbox import outbox_relay
from reports.models import ReportFile, ReportRecipient
from reports.services import report_build_and_send
from tests.factories import report
from tests.reports.conftest import build_world, h
from workorders.models import Ticket

pytestmark = pytest.mark.django_db

FIXED_LINE = "0571-88886666"
MOBILE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


@pytest.fixture
def mailed(cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    build_world(cast)
    report(cast, now=h(3), phone=FIXED_LINE)
    for user, address in [
        (cast.auditor, "auditor@example.com"),
        (cast.supervisor, "supervisor@example.com"),
        (cast.dispatcher, "dispatcher@example.com"),
    ]:
        user.email = address
        user.save(update_fields=["email"])
    for address in [
        "auditor@example.com",
        "supervisor@example.com",
        "outsider@example.com",  # no user has this address
        "Dispatcher@Example.com",  # a dispatcher calls customers: may see full numbers
    ]:
        ReportRecipient.objects.create(email=address, frequency="daily")
    report_build_and_send(frequency="daily", now=h(24))
    outbox_relay()  # the mails are outbox rows; the relay sends them
    return {m.to[0].lower(): m for m in mail.outbox}


def cells(message) -> list[str]:
    ((_name, content, _type),) = message.attachments
    wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [
        str(value)
        for sheet in wb.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]


def full_numbers() -> set[str]:
    return set(Ticket.objects.values_list("customer_phone", flat=True))


@pytest.mark.parametrize(
    "address", ["auditor@example.com", "supervisor@example.com", "outsider@example.com"]
)
def test_workbook_mailed_to_a_reader_without_the_right_has_no_full_phone(mailed, address):
    text = cells(mailed[address])
    assert "139****0001" in text and "0571-****6666" in text  # the column is there, masked
    phones = full_numbers()
    assert len(phones) == 9
    leaked = [c for c in text if MOBILE.search(c) or any(p in c for p in phones)]
    assert leaked == []
    assert not any("88886666" in c for c in text)


def test_a_reader_allowed_full_numbers_gets_them(mailed):
    text = cells(mailed["dispatcher@example.com"])
    assert "13900000001" in text and FIXED_LINE in text
    assert len(mail.outbox) == 4


def test_a_full_number_file_is_neither_listed_nor_downloadable_for_a_masked_role(
    mailed, cast, client
):
    masked = ReportFile.objects.get(department=None, full_phone=False)
    full = ReportFile.objects.get(department=None, full_phone=True)
    client.force_login(cast.auditor)
    html = client.get("/reports/").content.decode()
    assert f"/reports/files/{masked.pk}/" in html
    assert f"/reports/files/{full.pk}/" not in html
    assert client.get(f"/reports/files/{full.pk}/").status_code == 404
    assert client.get(f"/reports/files/{masked.pk}/").status_code == 200

    client.force_login(cast.dispatcher)
    html = client.get("/reports/").content.decode()
    assert f"/reports/files/{full.pk}/" in html
    assert f"/reports/files/{masked.pk}/" not in html  # one file per period and scope
    assert client.get(f"/reports/files/{full.pk}/").status_code == 200
