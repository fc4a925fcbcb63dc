"""Order numbers: GD + local date + a 6-digit sequence per day, unique under concurrent reports
without one report waiting for another's commit (a PostgreSQL sequence per day; elsewhere one
upsert of the day's counter row)."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.conftest import requires_postgres
from tests.factories import Cast, report
from tests.race import run_at_once
from workorders import services
from workorders.models import Ticket, TicketSequence

SH = ZoneInfo("Asia/Shanghai")


def test_numbers_count_up_within_a_local_day_and_restart_the_next(cast):
    # 23:59 and 00:01 Shanghai time are two days, whatever the UTC date.
    late = datetime(2026, 3, 1, 23, 59, tzinfo=SH)
    early = datetime(2026, 3, 2, 0, 1, tzinfo=SH)
    a = report(cast, now=late, phone="13900000001")
    b = report(cast, now=late, phone="13900000002")
    c = report(cast, now=early, phone="13900000003")
    first = int(a.number[-6:])
    assert a.number.startswith("GD20260301") and b.number == f"GD20260301{first + 1:06d}"
    assert c.number.startswith("GD20260302")
    assert Ticket.objects.get(pk=c.pk).number == c.number


def test_ticket_next_number_is_well_formed(cast):
    now = datetime(2026, 4, 5, 9, 0, tzinfo=SH)
    one = services.ticket_next_number(now=now)
    two = services.ticket_next_number(now=now)
    assert re.fullmatch(r"GD20260405\d{6}", one) and int(two[-6:]) == int(one[-6:]) + 1


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reports_at_once_get_unique_numbers_and_do_not_wait_for_each_other():
    """Eight reports at once (threads + barrier): unique numbers of the day, and a report does
    not wait for another's commit — one transaction that took a number and stays open does
    not hold up the others (with the counter row, they all waited for it)."""
    cast = Cast()
    now = timezone.now()
    day = timezone.localdate(now).strftime("%Y%m%d")
    report(cast, now=now, phone="13900009999")  # the day's sequence exists from here
    took_number = threading.Event()
    release = threading.Event()

    def slow_report():
        # Takes a number, then keeps its transaction open until the others are done. Another
        # reporter: a person's own reports do queue on their row of the category roll-up,
        # written last in the transaction.
        try:
            with transaction.atomic():
                t = report(cast, now=now, phone="13900008888", by=cast.other_frontline)
                took_number.set()
                release.wait(timeout=30)
                return t
        finally:
            connection.close()

    holder = threading.Thread(target=slow_report)
    holder.start()
    assert took_number.wait(timeout=30)
    started = time.monotonic()
    results, errors = run_at_once(
        [(lambda i=i: report(cast, now=now, phone=f"139{i:08d}")) for i in range(8)]
    )
    elapsed = time.monotonic() - started
    release.set()
    holder.join(timeout=30)
    assert errors == []
    assert elapsed < 20, "the reports waited for the open transaction"
    numbers = [t.number for t in results]
    assert all(re.fullmatch(rf"GD{day}\d{{6}}", n) for n in numbers), numbers
    stored = list(Ticket.objects.values_list("number", flat=True))
    assert len(stored) == 10 and len(set(stored)) == 10


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_first_reports_of_a_new_day_at_once_create_its_sequence_once():
    cast = Cast()
    # A day no other test uses: its sequence does not exist yet.
    now = datetime(2031, 7, 1, 10, 0, tzinfo=SH)
    with connection.cursor() as cur:
        cur.execute('DROP SEQUENCE IF EXISTS "workorders_ticket_no_20310701"')
    results, errors = run_at_once(
        [(lambda i=i: report(cast, now=now, phone=f"138{i:08d}")) for i in range(6)]
    )
    assert errors == []
    assert sorted(int(t.number[-6:]) for t in results) == [1, 2, 3, 4, 5, 6]


@pytest.mark.postgres
@requires_postgres
def test_a_day_that_began_on_the_counter_row_continues_after_it(cast):
    """Upgrading mid-day: the day's counter row (the numbering before sequences) already
    handed out 41 numbers; the sequence starts after them."""
    now = datetime(2032, 2, 3, 10, 0, tzinfo=SH)
    TicketSequence.objects.create(day=now.date(), last=41)
    assert report(cast, now=now).number == "GD20320203000042"
