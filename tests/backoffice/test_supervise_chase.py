"""督办 and 催办 from the back office: buttons on the order page and bulk actions on the list,
through the same services and rights as the API."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from tests.backoffice.conftest import change_url, changelist_url, do_url, messages_of
from tests.factories import ticket_in_state
from workorders.models import Chase, State, Supervision

pytestmark = pytest.mark.django_db


def run_bulk(client, action, tickets, query="", **data):
    payload = {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in tickets], **data}
    return client.post(changelist_url() + query, payload, follow=True)


def test_supervisor_supervises_from_the_order_page(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED, now=timezone.now() - timedelta(hours=60))
    client = client_for(cast.supervisor)
    page = client.get(change_url(t))
    assert 'data-transition="supervise"' in page.content.decode()
    form = client.get(do_url(t, "supervise"))
    assert form.status_code == 200 and "督办意见" in form.content.decode()
    response = client.post(do_url(t, "supervise"), {"note": "今天内给客户答复"}, follow=True)
    assert any("已督办" in m for m in messages_of(response)), messages_of(response)
    row = Supervision.objects.get(ticket=t)
    assert (row.by, row.note) == (cast.supervisor, "今天内给客户答复")
    t.refresh_from_db()
    assert t.supervise_count == 1


def test_supervise_needs_a_note_and_keeps_the_form(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    response = client_for(cast.supervisor).post(do_url(t, "supervise"), {"note": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["note"]
    assert not Supervision.objects.exists()


def test_lead_gets_no_supervise_button_and_a_forged_post_is_refused(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    client = client_for(cast.lead)
    assert 'data-transition="supervise"' not in client.get(change_url(t)).content.decode()
    response = client.post(do_url(t, "supervise"), {"note": "x"}, follow=True)
    assert any("无权" in m for m in messages_of(response)), messages_of(response)
    assert not Supervision.objects.exists()


def test_chase_twice_in_ten_minutes_is_refused_in_chinese(cast, client_for):
    t = ticket_in_state(cast, State.DISPATCHED)
    client = client_for(cast.dispatcher)
    first = client.post(do_url(t, "chase"), {"note": ""}, follow=True)
    assert any("已催办" in m for m in messages_of(first)), messages_of(first)
    second = client.post(do_url(t, "chase"), {"note": "再催"}, follow=True)
    assert any("刚被催办过" in m for m in messages_of(second)), messages_of(second)
    assert Chase.objects.filter(ticket=t).count() == 1


def test_bulk_supervise_with_mixed_orders(cast, client_for):
    open1 = ticket_in_state(cast, State.ACCEPTED)
    open2 = ticket_in_state(cast, State.DISPATCHED)
    closed = ticket_in_state(cast, State.CLOSED)
    client = client_for(cast.supervisor)
    form = run_bulk(client, "supervise_selected", [open1, open2, closed], "?queue=all")
    assert "督办意见" in form.content.decode()  # the note first
    response = run_bulk(
        client, "supervise_selected", [open1, open2, closed], "?queue=all", apply="1", note="加快"
    )
    msgs = messages_of(response)
    assert any(m.startswith("已督办 2 张") for m in msgs), msgs
    assert any(m.startswith(f"{closed.number} 未执行") and "无需督办" in m for m in msgs), msgs
    assert set(Supervision.objects.values_list("ticket_id", flat=True)) == {open1.pk, open2.pk}


def test_bulk_supervise_is_refused_to_a_dispatcher(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    response = run_bulk(
        client_for(cast.dispatcher), "supervise_selected", [t], apply="1", note="加快"
    )
    assert response.status_code == 200
    assert not Supervision.objects.exists()


def test_bulk_chase_with_mixed_rights_and_states(cast, client_for):
    dispatched = ticket_in_state(cast, State.DISPATCHED)
    replied = ticket_in_state(cast, State.REPLIED)
    already = ticket_in_state(cast, State.ACCEPTED)
    client = client_for(cast.supervisor)
    run_bulk(client, "chase_selected", [already], apply="1", note="")
    response = run_bulk(
        client, "chase_selected", [dispatched, replied, already], apply="1", note="请尽快"
    )
    msgs = messages_of(response)
    assert any(m.startswith("已催办 1 张") and dispatched.number in m for m in msgs), msgs
    assert any(m.startswith(f"{replied.number} 未执行") and "无需催办" in m for m in msgs), msgs
    assert any(m.startswith(f"{already.number} 未执行") and "刚被催办过" in m for m in msgs)
    # A lead has no chase right: the action is not even offered, and a forged post does nothing.
    run_bulk(client_for(cast.lead), "chase_selected", [dispatched], apply="1", note="")
    assert Chase.objects.filter(ticket=dispatched).count() == 1
