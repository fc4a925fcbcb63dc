"""申诉率 (regulator complaints per million subscribers) and 越级率 (orders marked 申诉 after
they were filed elsewhere ÷ orders received), counted in SQL; subscriber counts imported."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reports import kpis
from reports.kpis import Scope, period_for
from reports.models import SubscriberCount
from tests.factories import report
from workorders import services
from workorders.models import Channel

from .conftest import T0, h

pytestmark = pytest.mark.django_db

MONTH = period_for("month", now=T0)


@pytest.fixture
def regulator_world(cast):
    """November: 5 orders received; 2 from the regulator channel (杭州, 宁波), 1 filed at the
    counter then marked 申诉 (杭州), 2 ordinary."""
    a = report(
        cast, by=cast.dispatcher, channel=Channel.REGULATOR, now=h(1), customer_region="杭州"
    )
    b = report(
        cast,
        by=cast.dispatcher,
        channel=Channel.REGULATOR,
        now=h(2),
        phone="13900000002",
        customer_region="宁波",
    )
    c = report(cast, now=h(3), phone="13900000003", customer_region="杭州")
    services.ticket_mark_regulator(ticket=c, by=cast.dispatcher, reason="客户已申诉", now=h(30))
    report(cast, now=h(4), phone="13900000004", customer_region="杭州")
    report(cast, now=h(5), phone="13900000005", customer_region="宁波")
    return a, b, c


def test_regulator_count_and_escalation_rate(regulator_world, cast):
    row = kpis.kpi_summary(user=cast.auditor, period=MONTH)
    assert (row.figures["regulator"].numerator, row.figures["regulator"].denominator) == (3, None)
    f = row.figures["regulator_escalation"]
    assert (f.numerator, f.denominator, f.rate) == (1, 5, 20.0)


def test_orders_behind_the_escalation_count(regulator_world, cast):
    _a, _b, c = regulator_world
    qs = kpis.orders_behind(
        user=cast.auditor, period=MONTH, scope=None, count="regulator_escalated"
    )
    assert set(qs.values_list("number", flat=True)) == {c.number}


def test_regulator_rate_per_million_subscribers(regulator_world, cast, tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text(
        "region,month,subscribers\n杭州,2026-11,2000000\n宁波,2026-11,500000\n杭州,2026-10,1\n",
        encoding="utf-8",
    )
    out = StringIO()
    call_command("import_subscribers", str(path), stdout=out)
    assert "3 created, 0 updated" in out.getvalue()
    rate = kpis.regulator_rate(user=cast.auditor, period=MONTH)
    assert rate["regulator"] == 3 and rate["subscribers"] == 2_500_000
    assert rate["per_million"] == 1.2  # 3 ÷ 2.5 M × 1 M
    by_region = {r["region"]: (r["regulator"], r["per_million"]) for r in rate["regions"]}
    assert by_region == {"宁波": (1, 2.0), "杭州": (2, 1.0)}
    only = kpis.regulator_rate(user=cast.auditor, period=MONTH, scope=Scope(region="宁波"))
    assert (only["regulator"], only["subscribers"], only["per_million"]) == (1, 500_000, 2.0)


def test_import_replaces_a_month_and_refuses_a_bad_file_whole(db, tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text("region,month,subscribers\n杭州,2026-11,100\n", encoding="utf-8")
    call_command("import_subscribers", str(path), stdout=StringIO())
    path.write_text(
        "region,month,subscribers\n杭州,2026-11,200\n宁波,2026-13,5\n", encoding="utf-8"
    )
    with pytest.raises(CommandError, match="line 3"):
        call_command("import_subscribers", str(path), stdout=StringIO())
    assert list(SubscriberCount.objects.values_list("region", "subscribers")) == [("杭州", 100)]
    path.write_text("region,month,subscribers\n杭州,2026-11,200\n", encoding="utf-8")
    out = StringIO()
    call_command("import_subscribers", str(path), stdout=out)
    assert "0 created, 1 updated" in out.getvalue()
    assert SubscriberCount.objects.get().subscribers == 200


def test_risk_alerts_and_those_that_then_reached_the_regulator(cast, settings):
    settings.RISK_ALERT_THRESHOLD = 30
    # Alerted at the report (claimed escalation), then marked 申诉 a day later.
    a = report(cast, now=h(1), claimed_escalation=True, phone="13900000011")
    services.ticket_mark_regulator(ticket=a, by=cast.dispatcher, reason="申诉", now=h(25))
    # Alerted, never reached the regulator.
    report(cast, now=h(2), claimed_escalation=True, phone="13900000012")
    # Reached the regulator without an alert.
    c = report(cast, now=h(3), phone="13900000013")
    services.ticket_mark_regulator(ticket=c, by=cast.dispatcher, reason="申诉", now=h(4))
    row = kpis.kpi_summary(user=cast.auditor, period=MONTH)
    assert row.figures["risk_alerted"].numerator == 2
    f = row.figures["risk_then_regulator"]
    assert (f.numerator, f.denominator, f.rate) == (1, 2, 50.0)


def test_regulator_rate_api(regulator_world, cast, tmp_path):
    from tests.api.conftest import client_for

    SubscriberCount.objects.create(region="杭州", month=MONTH.first_day, subscribers=2_000_000)
    r = client_for(cast.auditor).get(
        "/api/v1/reports/regulator-rate/",
        {"period": "custom", "start": "2026-11-01", "end": "2026-11-30"},
    )
    assert r.status_code == 200, r.content
    data = r.json()
    assert (data["regulator"], data["subscribers"], data["per_million"]) == (3, 2_000_000, 1.5)
    assert data["regions"] == [
        {"region": "杭州", "regulator": 2, "subscribers": 2_000_000, "per_million": 1.0}
    ]
    assert client_for(cast.handler).get("/api/v1/reports/regulator-rate/").status_code == 403
