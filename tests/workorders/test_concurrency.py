"""Two people acting on the same order at once, and many reports at once, on PostgreSQL.

SQLite serialises writers (one write transaction at a time), so these races only exist — and
can only be tested — on PostgreSQL."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.utils import timezone

from tests.conftest import requires_postgres
from tests.factories import Cast, report, ticket_in_state
from workorders import services
from workorders.errors import Conflict, InvalidState
from workorders.models import AuditEntry, State, Ticket

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    # Threads use their own connections, so the data must be committed; groups, departments
    # and SLA policies come from data migrations, hence the serialized rollback.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_at_once(fns):
    """Start every function at the same instant (a barrier); return (results, errors)."""
    barrier = threading.Barrier(len(fns))
    results, errors = [], []
    lock = threading.Lock()

    def worker(fn):
        try:
            barrier.wait(timeout=30)
            value = fn()
            with lock:
                results.append(value)
        except Exception as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


def test_two_claims_at_once_one_wins_one_conflicts():
    cast = Cast()
    ticket = ticket_in_state(cast, State.DISPATCHED)
    # Both read the order before either acts: the same version, as two open browser tabs.
    copy_a = Ticket.objects.get(pk=ticket.pk)
    copy_b = Ticket.objects.get(pk=ticket.pk)
    results, errors = run_at_once(
        [
            lambda: services.ticket_claim(
                ticket=copy_a, by=cast.lead, expected_version=copy_a.version
            ),
            lambda: services.ticket_claim(
                ticket=copy_b, by=cast.handler, expected_version=copy_b.version
            ),
        ]
    )
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    winner = results[0]
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.state == State.ACCEPTED
    assert fresh.claimed_by_id == winner.claimed_by_id
    # Nothing half-written: one claim row in the audit trail, one stopped sign-for clock.
    assert AuditEntry.objects.filter(ticket=ticket, transition="claim").count() == 1
    assert fresh.clocks.filter(kind="sign_for", stopped_at__isnull=False).count() == 1


def test_two_claims_at_once_without_a_version_the_fresh_state_decides():
    """A caller that names no version (a task, a script) waits for the lock and then sees the
    order as the winner left it: the claim no longer applies."""
    cast = Cast()
    ticket = ticket_in_state(cast, State.DISPATCHED)
    copy_a = Ticket.objects.get(pk=ticket.pk)
    copy_b = Ticket.objects.get(pk=ticket.pk)
    results, errors = run_at_once(
        [
            lambda: services.ticket_claim(ticket=copy_a, by=cast.lead),
            lambda: services.ticket_claim(ticket=copy_b, by=cast.handler),
        ]
    )
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], InvalidState), errors
    assert AuditEntry.objects.filter(ticket=ticket, transition="claim").count() == 1


def test_twenty_reports_at_once_get_distinct_well_formed_numbers():
    cast = Cast()
    now = timezone.now()
    day = timezone.localdate(now).strftime("%Y%m%d")
    results, errors = run_at_once(
        [
            (lambda i=i: report(cast, now=now, phone=f"139{i:08d}", description=f"并发报单 {i}"))
            for i in range(20)
        ]
    )
    assert errors == []
    numbers = [t.number for t in results]
    assert all(re.fullmatch(rf"GD{day}\d{{6}}", n) for n in numbers), numbers
    assert len(set(numbers)) == 20
    # None rolled back, so no gaps either: twenty consecutive numbers of the day (a report
    # that rolls back may leave a gap; the day's sequence may have served earlier tests).
    seq = sorted(int(n[-6:]) for n in numbers)
    assert seq == list(range(seq[0], seq[0] + 20))
    assert Ticket.objects.count() == 20
