"""GET /api/v1/customers/{phone}/: what a hotline agent's screen needs when a call comes in,
for dispatchers, supervisors and the hotline's channel account only, every look-up recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import CustomerLookup
from notifications.sms_channel import sms_opt_out
from tests.api.conftest import client_for
from tests.api.test_intake import channel_account
from tests.factories import report, ticket_in_state
from workorders.models import Channel, Satisfaction

PHONE = "13800138000"


@pytest.mark.parametrize("role", ["dispatcher", "supervisor"])
def test_dispatcher_and_supervisor_may_look_up_and_each_lookup_is_recorded(cast, api, role):
    r = api(role).get(f"/api/v1/customers/{PHONE}/")
    assert r.status_code == 200, r.content
    row = CustomerLookup.objects.get()
    assert (row.actor, row.actor_role, row.phone) == (cast.by_role(role), role, PHONE)
    api(role).get(f"/api/v1/customers/{PHONE}/")
    assert CustomerLookup.objects.count() == 2


@pytest.mark.parametrize("role", ["frontline", "lead", "handler", "auditor"])
def test_other_roles_may_not_look_up_and_leave_no_record(cast, api, role):
    r = api(role).get(f"/api/v1/customers/{PHONE}/")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert not CustomerLookup.objects.exists()


def test_hotline_account_may_look_up_other_channel_accounts_may_not(cast):
    hotline = client_for(channel_account(Channel.HOTLINE))
    app = client_for(channel_account(Channel.APP))
    assert hotline.get(f"/api/v1/customers/{PHONE}/").status_code == 200
    assert app.get(f"/api/v1/customers/{PHONE}/").status_code == 403
    assert list(CustomerLookup.objects.values_list("actor_role", flat=True)) == ["channel"]


def test_lookup_gives_open_recent_repeat_last_satisfaction_and_opt_out(cast, api):
    now = timezone.now()
    closed = ticket_in_state(cast, "closed", now=now - timedelta(days=10), phone=PHONE)
    open_ = report(cast, phone="138 0013 8000", now=now - timedelta(days=1))
    old = report(cast, phone=PHONE, now=now - timedelta(days=40))
    report(cast, phone="13900139000", now=now)  # another customer
    data = api("dispatcher").get(f"/api/v1/customers/{PHONE}/").json()
    assert data["phone"] == PHONE
    assert {t["number"] for t in data["open_orders"]} == {open_.number, old.number}
    assert {t["number"] for t in data["recent_orders"]} == {open_.number, closed.number}
    assert data["repeat"] is True
    assert data["last_satisfaction"] == closed.visit_satisfaction
    assert data["last_satisfaction"] in Satisfaction.values
    assert data["opted_out"] is False
    sms_opt_out(phone=PHONE, source="TD", now=now)
    assert api("dispatcher").get(f"/api/v1/customers/{PHONE}/").json()["opted_out"] is True


def test_unknown_caller_is_no_repeat(cast, api):
    data = api("supervisor").get("/api/v1/customers/0571-87654321/").json()
    assert data["open_orders"] == [] and data["recent_orders"] == []
    assert data["repeat"] is False
    assert data["last_satisfaction"] is None


@pytest.mark.parametrize("phone", ["12345", "not-a-phone", "+14155550100"])
def test_a_phone_that_is_not_a_chinese_number_is_422(cast, api, phone):
    r = api("dispatcher").get(f"/api/v1/customers/{phone}/")
    assert r.status_code == 422
    assert "phone" in r.json()["error"]["fields"]
    assert not CustomerLookup.objects.exists()
