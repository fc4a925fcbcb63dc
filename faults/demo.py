"""Demo faults for `manage.py seed_demo` (registered as a demo step in `apps.py`): a broadband
outage still `suspected` and a coverage fault `confirmed` with an ETA, each found by the real
detection over demo orders reported in the last two hours. Idempotent: the orders have fixed
idempotency keys, and nothing is detected again once they are linked."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from workorders import services as orders
from workorders.models import Category

from .detection import fault_detect
from .models import Fault, FaultLink, FaultState
from .services import fault_confirm

CLUSTERABLE = ("signal_coverage", "broadband_fault")

# (key, category, region, centre, count, description)
CLUSTERS = [
    (
        "seed-fault-bb",
        "broadband_fault",
        "杭州市滨江区",
        (30.20840, 120.21070),
        6,
        "客户家宽带突然断网，光猫LOS红灯，邻居也反映无法上网。",
    ),
    (
        "seed-fault-sig",
        "signal_coverage",
        "杭州市萧山区",
        (30.16290, 120.26710),
        7,
        "客户反映小区手机突然无信号，无法拨打电话，周边住户情况相同。",
    ),
]


def seed_faults(*, users: dict, now: datetime) -> None:
    Category.objects.filter(code__in=CLUSTERABLE).update(clusterable=True)
    rng = random.Random(20261123)
    tickets = []
    for key, code, region, (lat, lng), count, text in CLUSTERS:
        category = Category.objects.filter(code=code).first()
        if category is None:
            return
        for i in range(count):
            tickets.append(
                orders.ticket_report(
                    by=users["frontline"],
                    category=category,
                    customer_phone=f"1358812{rng.randint(0, 9999):04d}",
                    description=text,
                    customer_name=rng.choice("张王李赵刘陈") + rng.choice(["先生", "女士"]),
                    customer_region=region,
                    latitude=Decimal(f"{lat + rng.uniform(-0.0015, 0.0015):.6f}"),
                    longitude=Decimal(f"{lng + rng.uniform(-0.0015, 0.0015):.6f}"),
                    idempotency_key=f"{key}-{i}",
                    now=now - timedelta(minutes=100 - i * 12),
                )
            )
    if FaultLink.objects.filter(ticket__in=tickets).exists():
        return  # seeded before
    result = fault_detect(now=now)
    for number in result.created:
        fault = Fault.objects.get(number=number)
        if fault.category.code == "signal_coverage" and fault.state == FaultState.SUSPECTED:
            fault_confirm(
                fault=fault,
                by=users["dispatcher"],
                eta=now + timedelta(hours=3),
                message="您所在区域基站故障正在抢修，预计今日恢复，给您带来不便敬请谅解。",
                now=now,
            )
