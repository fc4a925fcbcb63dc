from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Department
from sla.models import Calendar, CalendarDay, Clock, SlaPolicy
from sla.services import sla_rule_save
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


# --- business calendars ---------------------------------------------------------------------------

# 2026 Spring Festival (State Council arrangement): off Sunday 15 – Monday 23 February, make-up
# working Saturdays 14 and 28 February. Entered by hand so these tests do not depend on the
# holiday package (tests/sla/test_holidays.py covers the import).
SPRING_OFF = [date(2026, 2, d) for d in range(15, 24)]
SPRING_MAKEUP = [date(2026, 2, 14), date(2026, 2, 28)]


def make_calendar(code: str, name: str, *, weekdays: str, weekend: str = "") -> Calendar:
    cal = Calendar.objects.create(
        code=code,
        name=name,
        **{f"hours_{d}": weekdays for d in ("mon", "tue", "wed", "thu", "fri")},
        hours_sat=weekend,
        hours_sun=weekend,
    )
    CalendarDay.objects.bulk_create(
        [CalendarDay(calendar=cal, date=d, kind="holiday", name="春节") for d in SPRING_OFF]
        + [CalendarDay(calendar=cal, date=d, kind="workday", name="春节") for d in SPRING_MAKEUP]
    )
    return cal


@pytest.fixture
def office(db) -> Calendar:
    """5×8 with a lunch break: 7 working hours a day."""
    return make_calendar("office", "机关 5×8", weekdays="09:00-12:00, 13:00-17:00")


@pytest.fixture
def desk(db) -> Calendar:
    """7×13 desk hours."""
    return make_calendar("desk", "坐席 7×13", weekdays="08:00-21:00", weekend="08:00-21:00")


def fallback(kind: str, urgency: str = "general") -> SlaPolicy:
    return SlaPolicy.objects.get(
        kind=kind,
        urgency=urgency,
        active=True,
        channel="",
        tier="",
        category__isnull=True,
        category_group__isnull=True,
    )


def set_rule(kind: str, urgency: str = "general", **changes) -> SlaPolicy:
    """Edit the fallback rule of (kind, urgency) through the service: a new version."""
    rule = fallback(kind, urgency)
    for name, value in changes.items():
        setattr(rule, name, value)
    return sla_rule_save(rule=rule)
