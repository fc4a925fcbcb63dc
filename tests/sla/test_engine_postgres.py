"""PostgreSQL-only: concurrent sweeps and the sweep's query plan."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Notification
from sla.engine import sla_sweep
from sla.models import Clock, SlaEvent
from tests.conftest import requires_postgres
from tests.factories import Cast

from .conftest import bulk_due_orders

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_in_parallel_record_each_event_exactly_once():
    cast = Cast()
    now = timezone.now()
    bulk_due_orders(cast, 500, now=now, due=500)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait(timeout=30)
            results.append(sla_sweep(now=now, batch_size=50))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(results) == 2
    # Each sweep counts what it recorded itself: a clock handled by both would make the sum
    # exceed 500 even though the unique constraint keeps the table right.
    assert sum(r.events for r in results) == 500
    assert sum(r.notifications for r in results) == 500
    assert SlaEvent.objects.count() == 500
    assert SlaEvent.objects.values("clock", "level").distinct().count() == 500
    assert Notification.objects.filter(kind="remind").count() == 500
    assert not Clock.objects.filter(next_threshold_at__lte=now).exists()


@pytest.mark.django_db
def test_sweep_reads_clocks_by_index_not_by_sequential_scan(cast):
    now = timezone.now()
    clocks = bulk_due_orders(cast, 10_000, now=now, due=20)
    # Half of the rest have stopped (no next threshold), as in a real table.
    Clock.objects.filter(pk__in=[c.pk for c in clocks[20::2]]).update(
        stopped_at=now, next_threshold_at=None, outcome="met"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sla_clock")
    with CaptureQueriesContext(connection) as ctx:
        result = sla_sweep(now=now)
    assert result.events == 20
    claim = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT")
        and 'FROM "sla_clock"' in q["sql"]
        and "FOR UPDATE" in q["sql"]
    ]
    assert claim, "the sweep did not claim clocks with SELECT … FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + claim[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "SKIP LOCKED" in claim[0]
    assert "Seq Scan on sla_clock" not in plan, plan
    assert "clock_next_threshold" in plan, plan
