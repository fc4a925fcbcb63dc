"""A lead's (or a handler's) KPI figures from the daily roll-up equal his live figures.

He sees his department subtree's orders and the orders it co-handles (`visibility_parts`);
the roll-up serves the first part from the cells keyed by the order's department now and
adds the second part's contributions computed live (`rollup.sums(user=…)`). The history here
has what could make the two differ: re-dispatches between departments (sign-for clocks and
returns counted against a department the order has left), orders co-handled by the lead's
subtree from outside it and by other departments from inside it, a team below the lead's
line, category corrections, redos. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from reports import kpis, rollup
from reports.kpis import Scope, period_for
from reports.models import KpiDaily
from tests.factories import DepartmentFactory, report, user_with
from workorders import services
from workorders.models import Ticket
from workorders.selectors import tickets_visible_outside_departments, tickets_visible_to

from .conftest import TZ, _reply
from .test_report_figures import _random_world
from .test_rollup import START, _mark_built, _twists

pytestmark = pytest.mark.django_db

ALL = period_for("custom", start=date(2026, 10, 1), end=date(2026, 12, 31))
MONTH = period_for("month", now=datetime(2026, 11, 10, tzinfo=TZ))
WEEK = period_for("week", now=datetime(2026, 10, 28, tzinfo=TZ))


def _lead_world(cast) -> dict:
    """The random orders with twists, then a team below the network line with its lead,
    orders re-dispatched between the team, the network line and 业务管理, and co-handling in
    every direction (the lead's subtree helping outside it, outside departments helping it,
    the team helping its own line)."""
    _mark_built()
    _random_world(cast, n=50, seed=17)
    _twists(cast, seed=9)
    team = DepartmentFactory(name="光网班组", code="fiber_team", parent=cast.network)
    team_lead = user_with("lead", department=team, username="t_lead_team")
    depts = [cast.network, cast.business, team]
    leads = {cast.network.pk: cast.lead, cast.business.pk: cast.other_lead, team.pk: team_lead}
    for i in range(24):
        at = START + timedelta(days=(i * 5) % 45, hours=(0.3, 9, 23.6)[i % 3])
        t = report(cast, now=at, phone=f"1393333{i:04d}", customer_region=("杭州", "宁波")[i % 2])
        first, then = depts[i % 3], depts[(i // 3) % 3]
        services.ticket_dispatch(
            ticket=t, by=cast.dispatcher, department=first, now=at + timedelta(hours=1)
        )
        if i % 4 == 0:  # returned by the first department, sent on by the ruling
            services.ticket_request_return(
                ticket=t, by=leads[first.pk], reason="非本部门", now=at + timedelta(hours=2)
            )
            services.ticket_rule_return(
                ticket=t,
                by=cast.dispatcher,
                uphold=True,
                department=then if then != first else depts[(i + 1) % 3],
                now=at + timedelta(hours=3),
            )
        elif then != first:
            services.ticket_redispatch(
                ticket=t,
                by=cast.dispatcher,
                department=then,
                reason="转派",
                now=at + timedelta(hours=3),
            )
        t.refresh_from_db()
        lead = leads[t.department_id]
        services.ticket_claim(ticket=t, by=lead, handler=None, now=at + timedelta(hours=4))
        helpers = [d for d in depts if d.pk != t.department_id][: 1 + i % 2]
        if i % 5 != 4:
            services.ticket_request_cohandling(
                ticket=t, by=lead, departments=helpers, now=at + timedelta(hours=5)
            )
        if i % 3 != 2:
            _reply(cast, t, at + timedelta(hours=6 + 7 * (i % 6)), by=lead)
            services.ticket_close(
                ticket=t,
                by=cast.dispatcher,
                outcome="success",
                resolved=bool(i % 2),
                satisfaction="satisfied",
                now=at + timedelta(hours=30 + 7 * (i % 6)),
            )
    return {"team": team, "team_lead": team_lead}


def _scopes(cast, world) -> list[Scope]:
    return [
        Scope(),
        Scope(department=cast.network),
        Scope(department=cast.network, department_exact=True),
        Scope(department=cast.business),
        Scope(department=world["team"]),
        Scope(no_department=True),
        Scope(category=cast.category),
        Scope(region="宁波", channel="online"),
    ]


def _same_row(got: kpis.KpiRow, live: kpis.KpiRow, where: str, *, p90: bool) -> None:
    assert got.counts == live.counts, where
    if live.net_mean_seconds is None:
        assert got.net_mean_seconds is None, where
    else:
        assert math.isclose(
            got.net_mean_seconds, live.net_mean_seconds, rel_tol=1e-9, abs_tol=1e-6
        ), where
    if p90:  # the histogram's P90 is the upper edge of the bucket holding the live one
        if live.net_p90_seconds is None:
            assert got.net_p90_seconds is None, where
        else:
            bucket = rollup.net_bucket(live.net_p90_seconds)
            assert got.net_p90_seconds == rollup.bucket_upper(bucket), where


def _check_figures(user, period, scope) -> kpis.ReportFigures:
    where = f"{user.username} {period.label} {scope}"
    got = kpis.report_figures(user=user, period=period, scope=scope)
    live = kpis.report_figures(user=user, period=period, scope=scope, live=True)
    _same_row(got.current, live.current, where, p90=True)
    _same_row(got.previous, live.previous, where, p90=False)
    assert [r.key for r in got.scorecard] == [r.key for r in live.scorecard], where
    for a, b in zip(got.scorecard, live.scorecard, strict=True):
        _same_row(a, b, f"{where} department {b.key}", p90=False)
    assert [r.key for r in got.trend] == [r.key for r in live.trend], where
    for a, b in zip(got.trend, live.trend, strict=True):
        _same_row(a, b, f"{where} day {b.key}", p90=False)
    return got


def _check_rows(user, period, scope, group_by) -> None:
    where = f"{user.username} {period.label} {scope} by {group_by}"
    p90 = group_by not in kpis.TIME_GROUPS or connection.vendor == "postgresql"
    got = kpis.kpi_rows(user=user, period=period, scope=scope, group_by=group_by, p90=p90)
    live = kpis.kpi_rows(
        user=user, period=period, scope=scope, group_by=group_by, p90=p90, live=True
    )
    assert [r.key for r in got] == [r.key for r in live], where
    for a, b in zip(got, live, strict=True):
        _same_row(a, b, f"{where} {b.key}", p90=p90)


def test_the_history_has_what_could_make_a_lead_differ(cast):
    """Not vacuous: counts held against a department the order has left, orders the lead
    sees only through co-handling (counted live), and orders his subtree co-handles that are
    its own (counted once, from the cells)."""
    world = _lead_world(cast)
    assert (
        KpiDaily.objects.exclude(department_id=F("order_department_id"))
        .filter(sign_stopped__gt=0)
        .exists()
    )
    outside = tickets_visible_outside_departments(cast.lead)
    assert outside.filter(state="closed").exists()
    assert outside.filter(department=cast.business).exists()
    subtree = [cast.network.pk, world["team"].pk]
    inside_cohandled = Ticket.objects.filter(department__in=subtree, cohandlings__isnull=False)
    assert inside_cohandled.exists()
    # the two parts split what the lead sees, without overlap
    visible = set(tickets_visible_to(cast.lead).values_list("pk", flat=True))
    inside = set(Ticket.objects.filter(department__in=subtree).values_list("pk", flat=True))
    outside_ids = set(outside.values_list("pk", flat=True))
    assert inside | outside_ids == visible and not inside & outside_ids
    assert rollup.serves(user=cast.lead, period=MONTH, scope=Scope())
    assert rollup.serves(user=cast.handler, period=MONTH, scope=Scope())
    assert not rollup.serves(user=cast.frontline, period=MONTH, scope=Scope())


def test_a_leads_page_figures_from_the_rollup_equal_his_live_figures(cast):
    world = _lead_world(cast)
    users = (cast.lead, world["team_lead"], cast.other_lead, cast.handler)
    for user in users:
        for period in (MONTH, ALL, WEEK):
            for scope in _scopes(cast, world):
                _check_figures(user, period, scope)
    got = _check_figures(cast.lead, ALL, Scope())
    assert got.current.counts["received"] > 20 and got.current.counts["returns"] > 0


def test_a_leads_grouped_rows_from_the_rollup_equal_his_live_rows(cast):
    world = _lead_world(cast)
    for user in (cast.lead, world["team_lead"], cast.other_lead):
        for period in (MONTH, ALL):
            for group_by in (None, "department", "category", "region", "channel", "day", "week"):
                _check_rows(user, period, Scope(), group_by)
            for scope in _scopes(cast, world)[1:]:
                _check_rows(user, period, scope, None)
                _check_rows(user, period, scope, "department")


def test_verify_compares_a_leads_figures(cast):
    world = _lead_world(cast)
    for user in (cast.lead, world["team_lead"], cast.other_lead, cast.handler):
        assert rollup.verify(period=ALL, user=user) == [], user.username
    call_command(
        "kpi_verify", "--from", "2026-10-01", "--to", "2026-12-31", "--user", cast.lead.username
    )
    # A count of the lead's co-handled order outside his subtree, moved in the cells: only
    # his comparison sees it (the system's total is unchanged).
    cell = KpiDaily.objects.filter(order_department_id=cast.network.pk, received__gt=0).first()
    KpiDaily.objects.filter(pk=cell.pk).update(
        order_department_id=cast.channel.pk, department_id=cast.channel.pk
    )
    assert rollup.verify(period=ALL, by=[None]) == []
    assert rollup.verify(period=ALL, by=[None], user=cast.lead) != []
    with pytest.raises(SystemExit):
        call_command("kpi_verify", "--by", "total", "--user", cast.lead.username)
