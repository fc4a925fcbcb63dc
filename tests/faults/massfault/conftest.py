"""Mass-fault fixtures: a category group with two clusterable categories, and orders reported
at a given place and time through the real report service."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import Cast, CategoryFactory, report
from tests.web.test_browser import browser  # noqa: F401  (the Playwright fixture)
from workorders.models import Category, Ticket

# A point in Hangzhou; offsets are in metres.
LAT0, LNG0 = 30.2741, 120.1551


def offset(north_m: float = 0.0, east_m: float = 0.0) -> tuple[Decimal, Decimal]:
    lat = LAT0 + north_m / 111_320.0
    lng = LNG0 + east_m / (111_320.0 * math.cos(math.radians(LAT0)))
    return Decimal(f"{lat:.6f}"), Decimal(f"{lng:.6f}")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Net:
    group: Category
    broadband: Category
    coverage: Category
    billing: Category


@pytest.fixture
def net(cast: Cast) -> Net:
    group = CategoryFactory(name="网络质量", code="network_quality")
    broadband = CategoryFactory(
        name="宽带断网",
        code="bb_outage",
        parent=group,
        clusterable=True,
        default_department=cast.network,
    )
    coverage = CategoryFactory(
        name="信号覆盖",
        code="coverage",
        parent=group,
        clusterable=True,
        default_department=cast.network,
    )
    billing_group = CategoryFactory(name="计费缴费", code="billing_group")
    billing = CategoryFactory(name="计费争议", code="billing", parent=billing_group)
    return Net(group, broadband, coverage, billing)


@pytest.fixture
def now() -> datetime:
    return timezone.now().replace(microsecond=0)


_phone = iter(range(10_000_000))


def order(
    cast: Cast,
    category: Category,
    *,
    at: datetime,
    region: str = "",
    north: float | None = None,
    east: float = 0.0,
    **kw,
) -> Ticket:
    """An order reported at `at`, in `region`, `north`/`east` metres from the base point."""
    if north is not None:
        kw["latitude"], kw["longitude"] = offset(north, east)
    return report(
        cast,
        now=at,
        category=category,
        phone=f"139{next(_phone):08d}",
        customer_region=region,
        **kw,
    )


def orders_near(cast, category, *, n, now, minutes_ago=30, spread=100.0, north=0.0, **kw):
    """`n` orders within `spread` metres of a point, reported a minute apart."""
    out = []
    for i in range(n):
        angle = 2 * math.pi * i / max(n, 1)
        out.append(
            order(
                cast,
                category,
                at=now - timedelta(minutes=minutes_ago + i),
                north=north + spread * math.sin(angle),
                east=spread * math.cos(angle),
                **kw,
            )
        )
    return out
