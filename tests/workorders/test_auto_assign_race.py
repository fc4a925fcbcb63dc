"""Auto-assignment under concurrency: orders dispatched to the same department at the same
instant each get a valid handler, audited once, and the least-open-work rule holds as if they
had come one after another (the department's rule row is taken in turn).

Real threads on PostgreSQL, released together by a barrier: SQLite serialises writers."""

from __future__ import annotations

import pytest

from tests.conftest import requires_postgres
from tests.factories import Cast, report, user_with
from tests.race import run_at_once
from workorders import services
from workorders.models import AuditEntry, AutoAssignRule, HandlerSkill, Ticket

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROUNDS = 5
AT_ONCE = 4


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_concurrent_dispatches_spread_over_the_handlers(cast: Cast):
    handlers = [cast.handler] + [
        user_with("handler", department=cast.network, username=f"t_race_h{i}") for i in range(3)
    ]
    for h in handlers:
        HandlerSkill.objects.create(user=h, category=cast.category)
    AutoAssignRule.objects.create(department=cast.network, enabled=True)
    for r in range(ROUNDS):
        orders = [report(cast, phone=f"139{r:02d}{i:06d}") for i in range(AT_ONCE)]

        def dispatch(t):
            return lambda: services.ticket_dispatch(
                ticket=Ticket.objects.get(pk=t.pk), by=cast.dispatcher, department=cast.network
            )

        results, errors = run_at_once([dispatch(t) for t in orders])
        assert not errors, errors
        assert len(results) == AT_ONCE
        for t in orders:
            t.refresh_from_db()
            assert t.handler in handlers
            assert (
                AuditEntry.objects.filter(ticket=t, transition="assign", data__auto=True).count()
                == 1
            )
        # Every round adds one order per handler: no stale count sent two to the same desk.
        loads = [Ticket.objects.filter(handler=h).count() for h in handlers]
        assert loads == [r + 1] * len(handlers), loads
