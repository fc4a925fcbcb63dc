"""Issue probe 5: two scheduled report runs started at once (two beats, a retry while the first
run still builds) wrote two company-wide files, mailed everyone twice, and one run died on an
IntegrityError (the unique constraint let a NULL department through)."""

import threading

import pytest
from django.core import mail
from django.db import IntegrityError, connection

from notifications.outbox import outbox_relay
from reports.models import ReportFile, ReportRecipient
from reports.services import report_build_and_send
from tests.conftest import requires_postgres
from tests.factories import Cast
from tests.reports.conftest import T0, build_world, h


def _run_at_once(n: int, run) -> tuple[list, list]:
    barrier = threading.Barrier(n)
    results, errors = [], []

    def actor():
        try:
            barrier.wait(timeout=30)
            results.append(run())
        except Exception as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=actor) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_daily_runs_at_once_store_one_file_per_scope_and_mail_once(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cast = Cast()
    build_world(cast)
    ReportRecipient.objects.create(email="all@example.com", frequency="daily")
    ReportRecipient.objects.create(
        email="net@example.com", frequency="daily", department=cast.network
    )

    results, errors = _run_at_once(2, lambda: report_build_and_send(frequency="daily", now=h(24)))

    assert errors == []
    assert len(results) == 2
    assert ReportFile.objects.filter(department__isnull=True).count() == 1
    assert ReportFile.objects.filter(department=cast.network).count() == 1
    outbox_relay()  # the mails are outbox rows (sent already if a doorbell rang eagerly)
    assert sorted(m.to[0] for m in mail.outbox) == ["all@example.com", "net@example.com"]


@pytest.mark.django_db
def test_the_database_refuses_a_second_company_wide_file_of_a_period():
    """The constraint itself covers the NULL department (SQLite and PostgreSQL)."""
    fields = dict(frequency="daily", period_start=T0.date(), period_end=T0.date(), created_at=T0)
    ReportFile.objects.create(file="reports/daily/a.xlsx", **fields)
    with pytest.raises(IntegrityError):
        ReportFile.objects.create(file="reports/daily/b.xlsx", **fields)
