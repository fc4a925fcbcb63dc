"""The report page's figures (`kpis.report_figures`: one grouped pass per source, added up in
Python) equal those of one `kpi_rows` call per view, on the hand-built week and on a seeded
random set of orders over six weeks, for several periods, scopes and users. Runs on SQLite and
on PostgreSQL (DATABASE_URL=postgres://...)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from reports import kpis
from reports.kpis import Period, Scope, period_for
from tests.factories import report
from workorders import services

from .conftest import T0, TZ, h

pytestmark = pytest.mark.django_db


def _same_row(new: kpis.KpiRow, old: kpis.KpiRow, *, p90: bool = False) -> None:
    assert (new.key, new.label, new.period) == (old.key, old.label, old.period)
    assert new.counts == old.counts
    if old.net_mean_seconds is None:
        assert new.net_mean_seconds is None
    else:
        assert new.net_mean_seconds == pytest.approx(old.net_mean_seconds, rel=1e-9)
    if p90:
        assert new.net_p90_seconds == old.net_p90_seconds


def _check(user, period: Period, scope: Scope, trend_by: str) -> kpis.ReportFigures:
    got = kpis.report_figures(user=user, period=period, scope=scope, trend_by=trend_by)
    _same_row(got.current, kpis.kpi_summary(user=user, period=period, scope=scope), p90=True)
    _same_row(got.previous, kpis.kpi_summary(user=user, period=period.previous(), scope=scope))
    board = kpis.department_scorecard(user=user, period=period, scope=scope, p90=False)
    assert [r.key for r in got.scorecard] == [r.key for r in board]
    for new, old in zip(got.scorecard, board, strict=True):
        _same_row(new, old)
    trend = kpis.kpi_rows(user=user, period=period, scope=scope, group_by=trend_by, p90=False)
    assert len(got.trend) == len(trend)
    for new, old in zip(got.trend, trend, strict=True):
        _same_row(new, old)
    return got


def _scopes(cast):
    return [
        Scope(),
        Scope(department=cast.network),
        Scope(department=cast.business, department_exact=True),
        Scope(no_department=True),
        Scope(channel="counter"),
        Scope(region="杭州"),
        Scope(category=cast.category),
    ]


def test_hand_built_week_same_as_one_query_per_view(world, cast):
    week1 = period_for("week", now=T0)
    got = _check(cast.auditor, week1, Scope(), "day")
    assert got.current.counts["received"] == 8 and got.current.net_p90_hours == 60.0
    assert [r.key for r in got.scorecard][:2] == [cast.network.pk, cast.business.pk]
    week2 = period_for("week", now=h(24 * 7))
    got = _check(cast.auditor, week2, Scope(), "day")
    assert got.previous.counts["received"] == 8 and got.current.counts["received"] == 1
    two = period_for("custom", start=date(2026, 11, 2), end=date(2026, 11, 15))
    for scope in _scopes(cast):
        _check(cast.auditor, two, scope, "week")
    _check(cast.other_lead, week1, Scope(), "day")


def test_period_not_on_whole_days_falls_back(world, cast):
    odd = Period(h(1), h(40), "custom")
    got = kpis.report_figures(user=cast.auditor, period=odd, trend_by="day")
    assert got.current.counts == kpis.kpi_summary(user=cast.auditor, period=odd).counts


def _random_world(cast, n: int = 60, seed: int = 7) -> None:
    """Orders reported over six weeks at any hour (some close to local midnight), each on a
    random path: cancelled, left dispatched, closed by either department with a random visit,
    returned and the return rejected or upheld, suspended (and resumed or not)."""
    rnd = random.Random(seed)
    start = datetime(2026, 10, 12, 0, 0, tzinfo=TZ)
    channels = ["hotline", "counter", "online", "field"]
    for i in range(n):
        at = start + timedelta(days=rnd.randrange(42), hours=rnd.choice([0.1, 9, 15, 23.8]))
        t = report(
            cast,
            now=at,
            phone=f"1390000{rnd.randrange(30):04d}",
            customer_name=f"客户{i}",
            customer_region=rnd.choice(["杭州", "宁波", ""]),
            channel=rnd.choice(channels),
        )

        def step(lo: float, hi: float) -> datetime:
            nonlocal at
            at = at + timedelta(hours=rnd.uniform(lo, hi))
            return at

        path = rnd.randrange(7)
        if path == 0:
            services.ticket_cancel(
                ticket=t, by=cast.dispatcher, reason="重复报单", now=step(0.1, 1)
            )
            continue
        to_business = path == 3
        dept = cast.business if to_business else cast.network
        services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=dept, now=step(0.2, 4))
        if path == 1:
            continue
        if path in (4, 5):
            services.ticket_request_return(
                ticket=t, by=cast.lead, reason="非本部门问题", now=step(0.2, 3)
            )
            if path == 4:
                services.ticket_rule_return(
                    ticket=t, by=cast.dispatcher, uphold=False, comment="请处理", now=step(0.2, 3)
                )
            else:
                services.ticket_rule_return(
                    ticket=t,
                    by=cast.dispatcher,
                    uphold=True,
                    department=cast.business,
                    now=step(0.2, 3),
                )
                to_business = True
            if rnd.random() < 0.3:
                continue
        lead = cast.other_lead if to_business else cast.lead
        handler = None if to_business else cast.handler
        services.ticket_claim(ticket=t, by=lead, handler=handler, now=step(0.2, 4))
        if path == 6:  # suspended; resumed half the time
            services.ticket_suspend(
                ticket=t,
                by=lead,
                reason="unreachable",
                until=at + timedelta(days=5),
                now=step(1, 60),
            )
            if rnd.random() < 0.5:
                continue
            services.ticket_resume(ticket=t, by=lead, now=step(1, 60))
        services.ticket_reply(
            ticket=t,
            by=handler or lead,
            result="已处理完毕",
            cause="network",
            resolved=True,
            now=step(1, 70),
        )
        outcome = rnd.choice(["success", "success", "success", "unreachable"])
        services.ticket_close(
            ticket=t,
            by=cast.dispatcher,
            outcome=outcome,
            resolved=rnd.random() < 0.8 if outcome == "success" else None,
            satisfaction=rnd.choice(["satisfied", "basically", "unsatisfied"])
            if outcome == "success"
            else "",
            now=step(0.5, 30),
        )


def test_random_orders_same_as_one_query_per_view(cast):
    _random_world(cast)
    month = period_for("month", now=datetime(2026, 11, 10, tzinfo=TZ))
    got = _check(cast.auditor, month, Scope(), "day")
    assert got.current.counts["received"] > 10 and got.previous.counts["received"] > 10
    assert got.current.counts["closed"] > 5 and got.current.counts["returns"] > 0
    _check(cast.auditor, month, Scope(), "week")
    for scope in _scopes(cast):
        _check(cast.auditor, month, scope, "day")
    week = period_for("week", now=datetime(2026, 11, 4, tzinfo=TZ))
    for user in (cast.auditor, cast.other_lead, cast.lead, cast.handler):
        _check(user, week, Scope(), "day")
    custom = period_for("custom", start=date(2026, 10, 20), end=date(2026, 11, 16))
    _check(cast.auditor, custom, Scope(), "week")
    _check(cast.auditor, custom, Scope(department=cast.network), "day")


def test_backlog_breached_count_matches_the_breached_list(cast):
    _random_world(cast)
    assert kpis.backlog_tickets(user=cast.auditor).filter(state="suspended").exists()
    for now in (
        datetime(2026, 10, 20, 12, tzinfo=TZ),
        datetime(2026, 11, 10, 12, tzinfo=TZ),
        datetime(2026, 12, 31, tzinfo=TZ),
    ):
        for user in (cast.auditor, cast.other_lead):
            for scope in _scopes(cast):
                b = kpis.backlog(user=user, scope=scope, now=now)
                listed = kpis.breached_tickets(user=user, scope=scope, now=now)
                assert b["breached"] == listed.count()
    assert kpis.backlog(user=cast.auditor, now=datetime(2026, 12, 31, tzinfo=TZ))["breached"] > 0
