"""自动指派: off by default; when a department switches it on, an order arriving there (or
claimed without a handler) goes to the skilled handler with the least open work, with one
audit row by the system."""

import pytest

from tests.factories import CategoryFactory, report, ticket_in_state, user_with
from workorders import services
from workorders.models import AuditEntry, AutoAssignRule, HandlerSkill, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(cast):
    """Two more handlers in the network line; everyone skilled in the cast's category except
    `unskilled`."""
    h2 = user_with("handler", department=cast.network, username="t_h2")
    unskilled = user_with("handler", department=cast.network, username="t_h3")
    for h in (cast.handler, h2):
        HandlerSkill.objects.create(user=h, category=cast.category)
    return cast.handler, h2, unskilled


def switch_on(cast):
    AutoAssignRule.objects.create(department=cast.network, enabled=True)


def auto_rows(t):
    return AuditEntry.objects.filter(ticket=t, transition="assign", data__auto=True)


def test_off_by_default(cast, team):
    t = ticket_in_state(cast, State.DISPATCHED)
    assert t.handler is None
    assert not auto_rows(t).exists()


def test_a_disabled_rule_assigns_nobody(cast, team):
    AutoAssignRule.objects.create(department=cast.network, enabled=False)
    t = ticket_in_state(cast, State.DISPATCHED)
    assert t.handler is None


def test_dispatch_goes_to_the_least_busy_skilled_handler(cast, team):
    handler, h2, unskilled = team
    switch_on(cast)
    # `handler` already has an order on their desk; the unskilled one has none at all.
    busy = ticket_in_state(cast, State.DISPATCHED, phone="13900000001")
    assert busy.handler == handler  # a tie (0, 0): the lower id
    t = ticket_in_state(cast, State.DISPATCHED, phone="13900000002")
    assert t.handler == h2
    row = auto_rows(t).get()
    assert row.actor is None and row.actor_role == "system"
    assert row.data["handler"] == h2.username
    assert auto_rows(t).count() == 1
    assert unskilled not in {busy.handler, t.handler}


def test_skill_in_the_category_group_counts(cast):
    group = CategoryFactory(name="宽带", code="broadband")
    leaf = CategoryFactory(name="宽带断线", code="broadband_down", parent=group)
    HandlerSkill.objects.create(user=cast.handler, category=group)
    switch_on(cast)
    t = report(cast, category=leaf)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
    assert t.handler == cast.handler


def test_nobody_skilled_leaves_the_order_unassigned(cast, team):
    switch_on(cast)
    other = CategoryFactory(name="携号转网", code="mnp")
    t = report(cast, category=other)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
    assert t.handler is None
    assert not auto_rows(t).exists()


def test_closed_work_does_not_count(cast, team):
    handler, _h2, _u = team
    ticket_in_state(cast, State.CLOSED, phone="13900000009")  # handled by `handler`, done
    switch_on(cast)
    t = ticket_in_state(cast, State.DISPATCHED, phone="13900000003")
    assert t.handler == handler


def test_auto_dispatch_on_report_also_assigns(cast, team):
    cast.category.default_department = cast.network
    cast.category.auto_dispatch = True
    cast.category.save()
    switch_on(cast)
    t = report(cast)
    assert t.state == State.DISPATCHED
    assert t.handler == team[0]


def test_claim_without_handler_assigns_when_the_rule_is_on(cast, team):
    t = ticket_in_state(cast, State.DISPATCHED)
    switch_on(cast)
    services.ticket_claim(ticket=t, by=cast.lead)
    t.refresh_from_db()
    assert t.state == State.ACCEPTED
    assert t.handler == team[0]
    assert auto_rows(t).count() == 1


def test_a_named_handler_is_kept(cast, team):
    switch_on(cast)
    t = report(cast)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
    assigned = t.handler
    services.ticket_assign(ticket=t, by=cast.lead, handler=team[1])
    services.ticket_claim(ticket=t, by=cast.lead)
    t.refresh_from_db()
    assert t.handler == team[1]
    assert auto_rows(t).count() == 1  # the dispatch's only
    assert assigned == team[0]
