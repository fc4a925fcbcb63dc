"""The KPI roll-up under concurrent writers: many orders of the same cells (same day,
department, category, region, channel) moved at the same instant all land in the roll-up
(the upsert adds, nothing is lost), re-dispatches in opposite directions at once do not
deadlock (cells are taken in key order), and two writers on one order leave it counted once.

Real threads on PostgreSQL released together by a barrier: SQLite serialises writers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from reports import rollup
from reports.kpis import Scope, period_for
from reports.models import KpiRollupState
from tests.conftest import requires_postgres
from tests.factories import Cast, report
from tests.race import run_at_once
from workorders import services
from workorders.errors import DomainError

from .conftest import TZ, _reply

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DAY = datetime(2026, 11, 3, 9, 0, tzinfo=TZ)
PERIOD = period_for("custom", start=DAY.date(), end=DAY.date() + timedelta(days=10))
WRITERS = 8
LATER = DAY + timedelta(hours=1)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _orders(cast: Cast, n: int, *, dept=None, tag: str = "0"):
    out = []
    for i in range(n):
        t = report(cast, now=DAY, phone=f"1393{tag.zfill(3)}{i:04d}", customer_region="杭州")
        services.ticket_dispatch(
            ticket=t, by=cast.dispatcher, department=dept or cast.network, now=DAY
        )
        out.append(t)
    return out


def _no_deadlock(errors) -> None:
    assert not [e for e in errors if isinstance(e, OperationalError)], errors


def test_orders_of_one_cell_closed_at_once_are_all_counted():
    cast = Cast()
    KpiRollupState.objects.create(built_at=timezone.now())
    orders = _orders(cast, WRITERS)

    def walk(t):
        def run():
            at = DAY + timedelta(hours=1)
            services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=at)
            _reply(cast, t, at + timedelta(hours=2))
            services.ticket_close(
                ticket=t,
                by=cast.dispatcher,
                outcome="success",
                resolved=True,
                satisfaction="satisfied",
                now=at + timedelta(hours=3),
            )

        return run

    results, errors = run_at_once([walk(t) for t in orders])
    assert errors == [] and len(results) == WRITERS
    total = rollup.sums(period=PERIOD, scope=Scope())[()]
    assert total["closed"] == WRITERS and total["satisfied"] == WRITERS
    assert rollup.verify(period=PERIOD) == []


def test_redispatches_in_opposite_directions_at_once_do_not_deadlock():
    cast = Cast()
    KpiRollupState.objects.create(built_at=timezone.now())
    for round_ in range(5):
        to_business = _orders(cast, WRITERS // 2, tag=f"{round_}1")
        to_network = _orders(cast, WRITERS // 2, dept=cast.business, tag=f"{round_}2")

        def move(t, dept):
            return lambda: services.ticket_redispatch(
                ticket=t, by=cast.dispatcher, department=dept, reason="转派", now=DAY
            )

        results, errors = run_at_once(
            [move(t, cast.business) for t in to_business]
            + [move(t, cast.network) for t in to_network]
        )
        _no_deadlock(errors)
        assert errors == [] and len(results) == WRITERS
    assert rollup.verify(period=PERIOD) == []


def test_two_writers_on_one_order_leave_it_counted_once():
    cast = Cast()
    KpiRollupState.objects.create(built_at=timezone.now())
    for round_ in range(5):
        (t,) = _orders(cast, 1, tag=f"{round_}3")
        copy = type(t).objects.get(pk=t.pk)
        results, errors = run_at_once(
            [
                lambda t=t: services.ticket_claim(
                    ticket=t, by=cast.lead, handler=cast.handler, now=LATER
                ),
                lambda copy=copy: services.ticket_redispatch(
                    ticket=copy,
                    by=cast.dispatcher,
                    department=cast.business,
                    reason="转派",
                    now=LATER,
                ),
            ]
        )
        _no_deadlock(errors)
        assert all(isinstance(e, DomainError) for e in errors), errors
        assert len(results) >= 1
    assert rollup.verify(period=PERIOD) == []
