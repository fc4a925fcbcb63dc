"""Every KPI of DESIGN.md §6 on the hand-built orders of conftest.py, answers worked by hand.
The same file runs on SQLite and on PostgreSQL (DATABASE_URL=postgres://...)."""

from datetime import date

import pytest

from reports import kpis
from reports.kpis import Scope, period_for

from .conftest import T0, h

pytestmark = pytest.mark.django_db

WEEK1 = period_for("week", now=T0)


def numbers(qs):
    return set(qs.values_list("number", flat=True))


def fig(row, key):
    f = row.figures[key]
    return (f.numerator, f.denominator, f.rate)


def test_period_week_is_monday_to_monday_in_shanghai():
    assert WEEK1.first_day == date(2026, 11, 2)
    assert WEEK1.last_day == date(2026, 11, 8)
    prev = WEEK1.previous()
    assert (prev.first_day, prev.last_day) == (date(2026, 10, 26), date(2026, 11, 1))
    month = period_for("month", now=T0)
    assert month.previous().first_day == date(2026, 10, 1)
    assert month.previous().last_day == date(2026, 10, 31)


def test_every_kpi_of_week_one(world, cast):
    row = kpis.kpi_summary(user=cast.auditor, period=WEEK1)
    # 8 reported (o1..o8); o7 repeats o1 (same phone and category).
    assert fig(row, "received") == (8, None, None)
    assert fig(row, "repeat") == (1, 8, 12.5)
    # Dispatch clocks: o1..o7 stopped (o8's voided by cancel); o2 dispatched after 3 h.
    assert fig(row, "dispatch_on_time") == (6, 7, 85.7)
    # Sign-for: o1,o3,o4,o5 on time, o2 late, o6 twice (return at 0.5 h on time, then the
    # re-dispatch signed for after 3 h: late); o7 still running.
    assert fig(row, "response") == (5, 7, 71.4)
    # Closed: o1..o6. Original due met: o1, o4 (20 h suspended moves the due), o5 (redo:
    # the promise ran on from the start and still stopped in time), o6. o2 (50 h) and
    # o3 (60 h, extension of 24 h) missed the original; o3 met the effective due.
    assert fig(row, "on_time_closure") == (4, 6, 66.7)
    assert fig(row, "on_time_closure_effective") == (5, 6, 83.3)
    assert fig(row, "overdue") == (2, 6, 33.3)
    assert fig(row, "overdue_effective") == (1, 6, 16.7)
    # Successful visits: o1..o5 (o6 unreachable). Resolved: o1,o2,o4,o5; satisfied or
    # basically satisfied: o1, o2 (基本满意), o4, o5; o3 unresolved and unsatisfied.
    assert fig(row, "resolution") == (4, 5, 80.0)
    assert fig(row, "satisfaction") == (4, 5, 80.0)
    assert fig(row, "valid_visit") == (5, 6, 83.3)
    # First-time: no return, no redo, resolved: o1, o2, o4.
    assert fig(row, "first_time") == (3, 6, 50.0)
    # Dispatches = sign-for clocks started: o1..o7 plus o6's re-dispatch after the ruling.
    assert fig(row, "return") == (1, 8, 12.5)
    assert fig(row, "return_rejected") == (1, 1, 100.0)
    assert fig(row, "redo") == (1, 6, 16.7)
    assert fig(row, "extension") == (1, 6, 16.7)
    assert fig(row, "suspension") == (1, 6, 16.7)
    # Net handling hours: 10, 50, 60, 40 (60 − 20 paused), 10, 6.
    assert row.net_mean_hours == pytest.approx(176 / 6, abs=0.01)
    assert row.net_p90_hours == 60.0


def test_zero_denominator_gives_no_rate(world, cast):
    empty = period_for("custom", start=date(2020, 1, 1), end=date(2020, 1, 1))
    row = kpis.kpi_summary(user=cast.auditor, period=empty)
    assert fig(row, "on_time_closure") == (0, 0, None)
    assert fig(row, "received") == (0, None, None)
    assert row.net_mean_hours is None and row.net_p90_hours is None


def test_grouped_by_department(world, cast):
    rows = {r.key: r for r in kpis.kpi_rows(user=cast.auditor, period=WEEK1, group_by="department")}
    net, biz = rows[cast.network.pk], rows[cast.business.pk]
    assert net.label == "网络保障" and biz.label == "业务管理"
    # 网络保障: 5 closed, 4 on time → 80.0 %.
    assert fig(net, "on_time_closure") == (4, 5, 80.0)
    assert fig(net, "response") == (5, 6, 83.3)
    assert fig(net, "return") == (1, 7, 14.3)
    assert fig(net, "received") == (6, None, None)
    assert fig(biz, "on_time_closure") == (0, 1, 0.0)
    assert fig(biz, "response") == (0, 1, 0.0)
    assert fig(biz, "satisfaction") == (1, 1, 100.0)
    assert biz.net_p90_hours == 50.0
    # The cancelled order was never dispatched: counted under "no department".
    assert fig(rows[None], "received") == (1, None, None)
    ranked = kpis.department_scorecard(user=cast.auditor, period=WEEK1)
    assert [r.key for r in ranked][:2] == [cast.network.pk, cast.business.pk]


def test_grouped_by_week(world, cast):
    two_weeks = period_for("custom", start=date(2026, 11, 2), end=date(2026, 11, 15))
    rows = kpis.kpi_rows(user=cast.auditor, period=two_weeks, group_by="week")
    assert [r.period.first_day for r in rows] == [date(2026, 11, 2), date(2026, 11, 9)]
    w1, w2 = rows
    assert fig(w1, "received") == (8, None, None)
    assert fig(w1, "on_time_closure") == (4, 6, 66.7)
    assert fig(w2, "received") == (1, None, None)
    assert fig(w2, "on_time_closure") == (1, 1, 100.0)
    assert w2.net_mean_hours == 3.0
    total = kpis.kpi_summary(user=cast.auditor, period=two_weeks)
    assert fig(total, "on_time_closure") == (5, 7, 71.4)


def test_grouped_by_day_uses_shanghai_days(world, cast):
    rows = kpis.kpi_rows(user=cast.auditor, period=WEEK1, group_by="day")
    closed_by_day = {r.period.first_day: r.counts["closed"] for r in rows if r.counts["closed"]}
    # Closes at +7h, +11h, +12h (11-02), +51h (11-04 12:00), +61h, +62h (11-04 22:00/23:00).
    assert closed_by_day == {date(2026, 11, 2): 3, date(2026, 11, 4): 3}


def test_scope_filters(world, cast):
    counter = kpis.kpi_summary(user=cast.auditor, period=WEEK1, scope=Scope(channel="counter"))
    assert fig(counter, "received") == (1, None, None)
    assert fig(counter, "on_time_closure") == (0, 1, 0.0)
    dept = kpis.kpi_summary(user=cast.auditor, period=WEEK1, scope=Scope(department=cast.network))
    assert fig(dept, "on_time_closure") == (4, 5, 80.0)
    region = kpis.kpi_summary(user=cast.auditor, period=WEEK1, scope=Scope(region="宁波"))
    assert fig(region, "received") == (0, None, None)


def test_lead_sees_only_own_subtree(world, cast):
    row = kpis.kpi_summary(user=cast.other_lead, period=WEEK1)
    assert fig(row, "received") == (1, None, None)
    assert fig(row, "on_time_closure") == (0, 1, 0.0)
    assert numbers(
        kpis.orders_behind(user=cast.other_lead, period=WEEK1, scope=None, count="closed")
    ) == {world["o2"].number}


def test_drill_down_lists_the_orders_behind_each_number(world, cast):
    def behind(count):
        got = kpis.orders_behind(user=cast.auditor, period=WEEK1, scope=None, count=count)
        return {n for n, t in world.items() if t.number in numbers(got)}

    assert behind("met_original") == {"o1", "o4", "o5", "o6"}
    assert behind("missed_original") == {"o2", "o3"}
    assert behind("visits") == {"o1", "o2", "o3", "o4", "o5"}
    assert behind("sign_met") == {"o1", "o3", "o4", "o5", "o6"}
    assert behind("dispatch_stopped") == {f"o{i}" for i in range(1, 8)}
    assert behind("returns") == {"o6"}
    assert behind("repeats") == {"o7"}
    assert behind("first_time") == {"o1", "o2", "o4"}


def test_backlog_by_state_and_age(world, cast):
    now = h(24 * 7 + 10)
    b = kpis.backlog(user=cast.auditor, now=now)
    by_state = {r["state"]: r for r in b["by_state"]}
    assert b["total"] == 1
    assert by_state["dispatched"]["bands"]["gt7d"] == 1
    assert b["breached"] == 1
    assert numbers(kpis.breached_tickets(user=cast.auditor, now=now)) == {world["o7"].number}
    early = kpis.backlog(user=cast.auditor, now=h(30))
    assert early["breached"] == 0
