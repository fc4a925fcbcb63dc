from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Department
from sla.models import Clock, SlaPolicy
from tests.factories import user_with
from workorders.models import State, Ticket

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast creates eight users; the production hasher makes that seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def branch_lead(cast):
    """A lead of the network line's parent: hears escalations beyond the breach."""
    return user_with("lead", department=cast.network.parent, username="t_branch_lead")


def bulk_due_orders(cast, n: int, *, now: datetime, due: int, prefix: str = "B") -> list[Clock]:
    """`n` accepted orders with running promise clocks inserted in bulk (no services: this
    is volume for concurrency and query-plan tests). The first `due` have crossed 50 %."""
    policy = SlaPolicy.objects.get(kind="promise", urgency="general")
    target = policy.target
    network = Department.objects.get(code="network")
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                number=f"GD{prefix}{i:012d}"[:16],
                reporter=cast.frontline,
                reported_at=now,
                category=cast.category,
                customer_phone="13800138000",
                description="批量工单",
                state=State.ACCEPTED,
                department=network,
                handler=cast.handler,
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    clocks = []
    for i, t in enumerate(tickets):
        # Due ones started 60 % of the target ago; the rest 10 %.
        start = now - target * (0.6 if i < due else 0.1)
        clocks.append(
            Clock(
                ticket=t,
                kind="promise",
                department=network,
                policy=policy,
                started_at=start,
                target_seconds=int(target.total_seconds()),
                original_due_at=start + target,
                due_at=start + target,
                risk_at=start + target * 0.8,
                next_threshold_at=start + target * 0.5,
            )
        )
    return Clock.objects.bulk_create(clocks, batch_size=1000)


def at(fraction: float, target: timedelta, *, seconds: int = 0, start: datetime = T0):
    return start + target * fraction + timedelta(seconds=seconds)
