"""The customer adds information once an hour (≤ 500 characters); it appears on the order's
timeline as the customer's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from customers import services
from customers.models import CustomerNote, StatusLink
from tests.factories import ticket_in_state
from workorders.errors import Invalid, InvalidState, RateLimited
from workorders.models import State
from workorders.selectors import ticket_timeline

pytestmark = pytest.mark.django_db


def test_note_appears_on_the_staff_and_phone_timelines_as_the_customers(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    client = Client(REMOTE_ADDR="10.1.2.3")
    path = services.status_link_for(t)
    resp = client.post(path + "note/", {"text": "下午三点后家里有人"})
    assert resp.status_code == 302
    note = CustomerNote.objects.get(ticket=t)
    assert note.source and "10.1.2.3" not in note.source
    items = [i for i in ticket_timeline(t, user=cast.handler) if i["type"] == "customer_note"]
    assert [(i["text"], i["actor"]) for i in items] == [("下午三点后家里有人", None)]
    staff = Client()
    staff.force_login(cast.frontline)
    html = staff.get(f"/orders/{t.number}/").content.decode()
    assert "客户补充" in html and "下午三点后家里有人" in html
    staff.force_login(cast.dispatcher)
    html = staff.get(f"/admin/workorders/ticket/{t.pk}/change/").content.decode()
    assert "客户补充" in html and "下午三点后家里有人" in html


def test_once_an_hour_and_the_refused_text_stays_in_the_form(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    link = StatusLink.objects.get(ticket=t)
    now = timezone.now()
    services.customer_note_add(link=link, text="第一次", now=now)
    with pytest.raises(RateLimited):
        services.customer_note_add(link=link, text="第二次", now=now + timedelta(minutes=59))
    services.customer_note_add(link=link, text="一小时后", now=now + timedelta(minutes=61))
    assert CustomerNote.objects.filter(ticket=t).count() == 2
    resp = Client().post(services.status_link_for(t) + "note/", {"text": "马上又来"})
    assert resp.status_code == 429
    html = resp.content.decode()
    assert "每小时只能补充一次" in html and "马上又来" in html


def test_text_is_required_and_at_most_500_characters(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    link = StatusLink.objects.get(ticket=t)
    with pytest.raises(Invalid):
        services.customer_note_add(link=link, text="  ")
    with pytest.raises(Invalid):
        services.customer_note_add(link=link, text="长" * 501)
    services.customer_note_add(link=link, text="长" * 500)
    resp = Client().post(services.status_link_for(t) + "note/", {"text": "字" * 501})
    assert resp.status_code == 400 and "字" * 501 in resp.content.decode()


def test_no_notes_on_an_order_that_has_ended(cast):
    t = ticket_in_state(cast, State.CLOSED)
    with pytest.raises(InvalidState):
        services.customer_note_add(link=StatusLink.objects.get(ticket=t), text="还有问题")
    assert 'id="note"' not in Client().get(services.status_link_for(t)).content.decode()
