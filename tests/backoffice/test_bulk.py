"""Bulk actions go through the services and report per order what succeeded and what was
refused and why."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from tests.backoffice.conftest import changelist_url, messages_of
from tests.factories import ticket_in_state
from workorders import services
from workorders.models import AuditEntry, RequestStatus, State

pytestmark = pytest.mark.django_db


def run_action(client, action: str, tickets, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in tickets], "index": 0, **extra}
    return client.post(changelist_url(), data, follow=True)


def test_bulk_claim_with_a_mix_of_allowed_and_refused(cast, client_for):
    ok1 = ticket_in_state(cast, State.DISPATCHED)
    ok2 = ticket_in_state(cast, State.DISPATCHED)
    already = ticket_in_state(cast, State.ACCEPTED)
    suspended = ticket_in_state(cast, State.SUSPENDED)
    response = run_action(client_for(cast.lead), "claim_selected", [ok1, ok2, already, suspended])
    msgs = messages_of(response)
    ok_msgs = [m for m in msgs if m.startswith("已签收")]
    assert len(ok_msgs) == 1
    assert ok1.number in ok_msgs[0] and ok2.number in ok_msgs[0]
    assert "2 张" in ok_msgs[0]
    refused = {m.split(" ")[0]: m for m in msgs if "未执行" in m}
    assert set(refused) == {already.number, suspended.number}
    assert "已报到/处理中" in refused[already.number]  # why: the order's state
    assert "挂起" in refused[suspended.number]
    for t, state in (
        (ok1, State.ACCEPTED),
        (ok2, State.ACCEPTED),
        (already, State.ACCEPTED),
        (suspended, State.SUSPENDED),
    ):
        t.refresh_from_db()
        assert t.state == state
    assert AuditEntry.objects.filter(transition="claim", actor=cast.lead).count() == 2 + 2


def test_bulk_dispatch_asks_for_the_department_then_reports_per_order(cast, client_for):
    new1 = ticket_in_state(cast, State.REPORTED)
    new2 = ticket_in_state(cast, State.REPORTED)
    dispatched = ticket_in_state(cast, State.DISPATCHED)
    client = client_for(cast.dispatcher)
    form_page = run_action(client, "dispatch_to_department", [new1, new2, dispatched])
    assert form_page.status_code == 200
    assert "department" in form_page.context["form"].fields
    assert [t.number for t in form_page.context["tickets"]] == sorted(
        [new1.number, new2.number, dispatched.number]
    )
    data = {
        "action": "dispatch_to_department",
        ACTION_CHECKBOX_NAME: [new1.pk, new2.pk, dispatched.pk],
        "apply": "1",
        "department": cast.business.pk,
    }
    response = client.post(changelist_url(), data, follow=True)
    msgs = messages_of(response)
    assert any(m.startswith("已派往业务管理 2 张") for m in msgs), msgs
    assert any(m.startswith(f"{dispatched.number} 未执行") for m in msgs), msgs
    for t in (new1, new2):
        t.refresh_from_db()
        assert (t.state, t.department) == (State.DISPATCHED, cast.business)
    dispatched.refresh_from_db()
    assert dispatched.department == cast.network


def test_bulk_dispatch_without_department_shows_the_form_again(cast, client_for):
    t = ticket_in_state(cast, State.REPORTED)
    data = {"action": "dispatch_to_department", ACTION_CHECKBOX_NAME: [t.pk], "apply": "1"}
    response = client_for(cast.dispatcher).post(changelist_url(), data)
    assert response.status_code == 200
    assert "department" in response.context["form"].errors
    t.refresh_from_db()
    assert t.state == State.REPORTED


def test_bulk_assign_handler(cast, client_for):
    a = ticket_in_state(cast, State.ACCEPTED)
    closed = ticket_in_state(cast, State.CLOSED)
    data = {
        "action": "assign_handler",
        ACTION_CHECKBOX_NAME: [a.pk, closed.pk],
        "apply": "1",
        "handler": cast.lead.pk,
    }
    # Selected on the 全部 list (the default queue shows open orders only).
    response = client_for(cast.lead).post(changelist_url() + "?queue=all", data, follow=True)
    msgs = messages_of(response)
    assert any(m.startswith("已指派给") and a.number in m for m in msgs), msgs
    assert any(m.startswith(f"{closed.number} 未执行") for m in msgs), msgs
    a.refresh_from_db()
    assert a.handler == cast.lead


def test_bulk_approve_extensions_mixed(cast, client_for):
    general = ticket_in_state(cast, State.ACCEPTED)
    urgent = ticket_in_state(cast, State.ACCEPTED, category=cast.urgent_category)
    none = ticket_in_state(cast, State.ACCEPTED)
    r1 = services.ticket_request_extension(ticket=general, by=cast.handler, hours=4, reason="备件")
    r2 = services.ticket_request_extension(ticket=urgent, by=cast.handler, hours=1, reason="备件")
    response = run_action(client_for(cast.lead), "approve_extensions", [general, urgent, none])
    msgs = messages_of(response)
    assert any(m.startswith("已批准延期 1 张") and general.number in m for m in msgs), msgs
    # Urgent orders' extensions need the supervisor; an order without a request says so.
    assert any(m.startswith(f"{urgent.number} 未执行") and "无权" in m for m in msgs), msgs
    assert any(m.startswith(f"{none.number} 未执行") and "没有待审批" in m for m in msgs), msgs
    r1.refresh_from_db()
    r2.refresh_from_db()
    assert (r1.status, r2.status) == (RequestStatus.APPROVED, RequestStatus.PENDING)


def test_selected_ids_outside_scope_are_ignored(cast, client_for):
    mine = ticket_in_state(cast, State.DISPATCHED)
    theirs = ticket_in_state(cast, State.REPORTED)
    services.ticket_dispatch(ticket=theirs, by=cast.dispatcher, department=cast.business)
    run_action(client_for(cast.lead), "claim_selected", [mine, theirs])
    theirs.refresh_from_db()
    assert theirs.state == State.DISPATCHED
    mine.refresh_from_db()
    assert mine.state == State.ACCEPTED


def test_auditor_cannot_post_an_action(cast, client_for):
    t = ticket_in_state(cast, State.DISPATCHED)
    response = run_action(client_for(cast.auditor), "claim_selected", [t])
    t.refresh_from_db()
    assert t.state == State.DISPATCHED
    assert response.status_code == 200
