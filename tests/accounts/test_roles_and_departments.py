"""Roles as groups created by migration, the department tree, the one rule for rights, who sees
which orders, and phone masking."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.utils.timezone import now

from accounts.models import Department
from accounts.roles import ROLE_PERMISSIONS, Role
from tests.conftest import requires_postgres
from tests.factories import DepartmentFactory, report, ticket_in_state, user_with
from workorders import services
from workorders.errors import NotAllowed
from workorders.models import CoHandling, State
from workorders.permissions import acting_role, can_see_full_phone, mask_phone, may
from workorders.selectors import tickets_visible_outside_departments, tickets_visible_to


@pytest.mark.django_db
def test_six_role_groups_with_their_permissions_come_from_the_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)
    for role, codenames in ROLE_PERMISSIONS.items():
        # The order rights (other apps grant their own, e.g. faults' view_fault).
        group = Group.objects.get(name=role)
        perms = set(
            group.permissions.filter(content_type__app_label="workorders").values_list(
                "codename", flat=True
            )
        )
        assert perms == set(codenames), role


@pytest.mark.django_db
def test_auditor_changes_nothing():
    """DESIGN §1: the auditor reads everything and changes nothing."""
    auditor = Group.objects.get(name="auditor")
    writes = set(auditor.permissions.values_list("codename", flat=True)) - {
        "view_all_tickets",
        "view_reports",
        "export_tickets",
        "view_ticket",
        "view_fault",
    }
    assert writes == set()


@pytest.mark.django_db
def test_the_four_professional_lines_are_seeded():
    lines = dict(Department.objects.filter(kind="line").values_list("code", "name"))
    assert lines == {
        "network": "网络保障",
        "business": "业务管理",
        "channel": "渠道服务",
        "systems": "系统支撑",
    }


@pytest.mark.django_db
def test_department_tree_subtree_and_move():
    network = Department.objects.get(code="network")
    business = Department.objects.get(code="business")
    team = DepartmentFactory(code="t_team", parent=network)
    sub = DepartmentFactory(code="t_sub", parent=team)
    assert sub.is_within(network) and sub.is_within(team) and sub.is_within(sub)
    assert not network.is_within(team)
    assert set(network.subtree()) >= {network, team, sub}
    # Moving a team moves its whole subtree.
    team.parent = business
    team.save()
    sub.refresh_from_db()
    assert sub.is_within(business) and not sub.is_within(network)


def test_a_user_with_several_roles_acts_under_the_one_that_grants(cast):
    both = user_with("frontline", "dispatcher", department=cast.business, username="t_both")
    ticket = ticket_in_state(cast, State.REPORTED)
    assert acting_role(both, "dispatch", ticket) == "dispatcher"
    assert acting_role(both, "report") == "frontline"  # first grant in DESIGN order
    services.ticket_dispatch(ticket=ticket, by=both, department=cast.network)
    assert ticket.audit.latest("id").actor_role == "dispatcher"


def test_an_inactive_user_may_nothing(cast):
    cast.dispatcher.is_active = False
    cast.dispatcher.save()
    ticket = ticket_in_state(cast, State.REPORTED)
    from accounts.models import User

    inactive = User.objects.get(pk=cast.dispatcher.pk)
    assert not may(inactive, "dispatch", ticket)
    with pytest.raises(NotAllowed):
        services.ticket_dispatch(ticket=ticket, by=inactive, department=cast.network)


def test_lead_approves_extensions_of_general_orders_only(cast):
    general = ticket_in_state(cast, State.ACCEPTED)
    urgent = ticket_in_state(cast, State.ACCEPTED, category=cast.urgent_category)
    assert may(cast.lead, "approve_extension", general)
    assert not may(cast.lead, "approve_extension", urgent)  # urgent: always the supervisor
    assert may(cast.supervisor, "approve_extension", urgent)
    req = services.ticket_request_extension(ticket=urgent, by=cast.handler, hours=2, reason="等料")
    with pytest.raises(NotAllowed):
        services.ticket_decide_extension(request=req, by=cast.lead, approve=True)


def test_who_sees_which_orders(cast):
    net_order = ticket_in_state(cast, State.ACCEPTED)  # network, handler = cast.handler
    biz_order = ticket_in_state(cast, State.DISPATCHED, phone="13900139000")
    services.ticket_redispatch(
        ticket=biz_order, by=cast.dispatcher, department=cast.business, reason="计费"
    )
    other_report = report(cast, by=cast.other_frontline, phone="13700137000")
    everything = {net_order.pk, biz_order.pk, other_report.pk}

    def seen(user):
        return set(tickets_visible_to(user).values_list("pk", flat=True))

    assert seen(cast.dispatcher) == everything
    assert seen(cast.supervisor) == everything
    assert seen(cast.auditor) == everything
    assert seen(cast.lead) == {net_order.pk}
    assert seen(cast.handler) == {net_order.pk}
    assert seen(cast.other_lead) == {biz_order.pk}
    assert seen(cast.frontline) == {net_order.pk, biz_order.pk}  # what they reported
    assert seen(cast.other_frontline) == {other_report.pk}


def test_a_lead_of_the_line_sees_its_teams_orders(cast):
    team = DepartmentFactory(code="t_net_team", parent=cast.network)
    ticket = ticket_in_state(cast, State.REPORTED)
    services.ticket_dispatch(ticket=ticket, by=cast.dispatcher, department=team)
    assert ticket in tickets_visible_to(cast.lead)
    assert may(cast.lead, "claim", ticket)
    team_lead = user_with("lead", department=team, username="t_team_lead")
    other = ticket_in_state(cast, State.DISPATCHED, phone="13900139000")  # the line itself
    assert other not in tickets_visible_to(team_lead)
    assert not may(team_lead, "claim", other)


def test_a_lead_sees_his_subtrees_orders_and_those_it_co_handles_and_nothing_else(cast):
    """The department arm and the co-handling arm (ids of the subtree; ids of the orders it
    co-handles, a hashed `IN (…)` beside the department arm and `= ANY(ARRAY(…))` on
    PostgreSQL where it stands alone), alone and under the filters and counts the lists put
    on top of them."""
    team = DepartmentFactory(code="t_net_team2", parent=cast.network)
    elsewhere = DepartmentFactory(code="t_biz_team", parent=cast.business)

    def order(department, phone):
        t = ticket_in_state(cast, State.DISPATCHED, phone=phone)
        return services.ticket_redispatch(
            ticket=t, by=cast.dispatcher, department=department, reason="转"
        )

    own = ticket_in_state(cast, State.DISPATCHED, phone="13900000001")  # network
    own_team = order(team, "13900000002")
    cohandled = order(cast.business, "13900000003")
    services.ticket_request_cohandling(ticket=cohandled, by=cast.other_lead, departments=[team])
    cohandled_twice = order(cast.business, "13900000004")
    for dept in (cast.network, team, elsewhere):  # one order, three co-handling rows
        CoHandling.objects.create(ticket=cohandled_twice, department=dept, created_at=now())
    not_ours = order(cast.business, "13900000005")
    CoHandling.objects.create(ticket=not_ours, department=elsewhere, created_at=now())
    order(elsewhere, "13900000006")
    unrouted = report(cast, phone="13900000007")  # no department yet
    closed_own = ticket_in_state(cast, State.CLOSED, phone="13900000008")

    ours = {own.pk, own_team.pk, cohandled.pk, cohandled_twice.pk, closed_own.pk}
    visible = tickets_visible_to(cast.lead)
    assert set(visible.values_list("pk", flat=True)) == ours
    assert visible.count() == len(ours)  # each order once, however many arms match it
    assert set(tickets_visible_to(cast.handler).values_list("pk", flat=True)) == ours
    open_ours = ours - {closed_own.pk}
    assert set(visible.exclude(state=State.CLOSED).values_list("pk", flat=True)) == open_ours
    assert visible.filter(department=cast.business).count() == 2
    assert not visible.filter(pk__in=[not_ours.pk, unrouted.pk]).exists()
    team_lead = user_with("lead", department=team, username="t_team_lead2")
    seen = set(tickets_visible_to(team_lead).values_list("pk", flat=True))
    assert seen == {own_team.pk, cohandled.pk, cohandled_twice.pk}
    # The part outside his departments (the KPI's live part), written with the ids' index.
    outside = tickets_visible_outside_departments(cast.lead)
    assert set(outside.values_list("pk", flat=True)) == {cohandled.pk, cohandled_twice.pk}


@requires_postgres
def test_a_leads_list_tests_the_cohandled_orders_by_hash_not_by_searching_an_array(cast):
    """Beside the department arm the co-handled ids are tested on every row the planner
    scans: a hashed subplan, not `id = ANY(array)` searched element by element (a lead's
    queue with 10,000 co-handled orders at 1M took 1.5 s that way)."""
    from django.db import connection

    for i in range(3):
        t = ticket_in_state(cast, State.DISPATCHED, phone=f"1390000010{i}")
        CoHandling.objects.create(ticket=t, department=cast.business, created_at=now())
    qs = tickets_visible_to(cast.other_lead).filter(state=State.DISPATCHED)
    sql, params = qs.order_by("promise_due_at").values("pk")[:20].query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "SubPlan" in plan, plan
    assert "(id = ANY (" not in plan, plan
    assert qs.count() == 3 + qs.filter(department=cast.business).count()


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("0571-87654321", "0571-****4321"),
        ("02188886666", "021****6666"),
        ("057187654321", "0571****4321"),
        ("1234", "****"),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_full_phone_for_roles_that_call_the_customer_and_the_reporter(cast):
    ticket = ticket_in_state(cast, State.DISPATCHED)
    assert can_see_full_phone(cast.dispatcher, ticket)
    assert can_see_full_phone(cast.handler, ticket)
    assert can_see_full_phone(cast.frontline, ticket)  # entered it themselves
    assert not can_see_full_phone(cast.other_frontline, ticket)
    assert not can_see_full_phone(cast.auditor, ticket)
