"""The report form orders its category buttons from the monthly roll-up (CategoryUsage), kept by
the report service, and every phone page costs the same number of queries whatever the number
of orders."""

from __future__ import annotations

import importlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import access
from tests.factories import CategoryFactory, report
from web.selectors import report_categories
from workorders import services
from workorders.errors import Invalid
from workorders.models import CategoryUsage

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SH)


def _codes(user, now=NOW) -> list[str]:
    return [c.code for c in report_categories(user, now=now)]


def test_each_report_counts_in_the_reporters_monthly_roll_up(cast):
    report(cast, now=datetime(2026, 11, 30, 23, 50, tzinfo=SH), phone="13900000001")
    report(cast, now=datetime(2026, 12, 1, 0, 10, tzinfo=SH), phone="13900000002")
    report(cast, now=datetime(2026, 12, 2, 9, 0, tzinfo=SH), phone="13900000003")
    rows = {
        (r.month, r.count, r.last_used)
        for r in CategoryUsage.objects.filter(user=cast.frontline, category=cast.category)
    }
    # Months in Shanghai time: 23:50 on 30 November is November, 00:10 on 1 December is not.
    assert rows == {
        (date(2026, 11, 1), 1, datetime(2026, 11, 30, 23, 50, tzinfo=SH)),
        (date(2026, 12, 1), 2, datetime(2026, 12, 2, 9, 0, tzinfo=SH)),
    }


def test_a_refused_report_does_not_count(cast):
    inactive = CategoryFactory(code="gone", is_active=False)
    with pytest.raises(Invalid):
        report(cast, now=NOW, category=inactive)
    assert not CategoryUsage.objects.exists()


def test_my_usual_categories_first_then_everybodys_then_the_configured_order(cast):
    a = CategoryFactory(code="a_first_configured", sort_order=1)
    b = CategoryFactory(code="b_everybody", sort_order=50)
    c = CategoryFactory(code="c_mine", sort_order=60)
    for i in range(3):
        report(
            cast,
            now=NOW - timedelta(days=1),
            category=b,
            by=cast.other_frontline,
            phone=f"1390000010{i}",
        )
    report(cast, now=NOW - timedelta(days=2), category=c, phone="13900000200")
    codes = _codes(cast.frontline)
    assert codes.index("c_mine") < codes.index("b_everybody") < codes.index(a.code)
    # The other reporter's own first.
    assert _codes(cast.other_frontline)[0] == "b_everybody"


def test_reports_older_than_the_window_do_not_count(cast):
    old = CategoryFactory(code="old_habit", sort_order=900)
    report(cast, now=NOW - timedelta(days=200), category=old, phone="13900000300")
    assert _codes(cast.frontline)[0] != "old_habit"
    assert _codes(cast.frontline, now=NOW - timedelta(days=199))[0] == "old_habit"


def test_the_migration_backfills_the_roll_up_from_existing_orders(cast):
    report(cast, now=NOW, phone="13900000401")
    report(cast, now=NOW, phone="13900000402", category=cast.urgent_category)
    report(cast, now=NOW - timedelta(days=40), phone="13900000403", by=cast.other_frontline)
    kept = sorted(CategoryUsage.objects.values_list("user", "category", "month", "count"))
    CategoryUsage.objects.all().delete()
    migration = importlib.import_module("workorders.migrations.0013_category_usage")
    migration.backfill(apps, connection.schema_editor())
    assert sorted(CategoryUsage.objects.values_list("user", "category", "month", "count")) == kept


# --------------------------------------------------------------------------- query counts


def _page_queries(client, url) -> int:
    access.clear()  # the cast's rights: committed long ago in production
    client.get(url)  # warm per-process copies
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, url
    return len(ctx.captured_queries)


def _orders(cast, n: int, start: int):
    made = []
    for i in range(start, start + n):
        t = report(cast, phone=f"139{i:08d}", category=cast.urgent_category if i % 2 else None)
        if i % 3 == 0:
            services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
        made.append(t)
    return made


def test_every_phone_page_costs_the_same_with_few_and_many_orders(front, cast):
    first = _orders(cast, 2, start=0)[0]  # dispatched: its page shows a department
    pages = [
        reverse("web:report"),
        reverse("web:my_orders"),
        reverse("web:my_orders") + "?status=open",
        reverse("web:order", args=[first.number]),
        reverse("web:notifications"),
    ]
    few = {url: _page_queries(front, url) for url in pages}
    _orders(cast, 30, start=100)
    many = {url: _page_queries(front, url) for url in pages}
    assert few == many
    # Pinned: the report form reads the session, the user (rights come from the
    # per-process copy), the categories, the person's roll-up rows and the unread badge
    # (everybody's counts are in the cache). Before: one COUNT over every order instead of
    # the roll-up.
    assert few[reverse("web:report")] == 5
