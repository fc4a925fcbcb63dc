"""Never a silent overwrite: a write based on what someone saw before another change is
refused with a clear message in every interface, and changes nothing. Sequential (the other
change lands first, then the stale one arrives), so these run on SQLite too; the races
themselves are in test_decision_races and test_backoffice_races (PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.urls import reverse

from sla.models import Clock, ClockKind
from tests.api.conftest import client_for as api_client
from tests.backoffice.conftest import change_url, changelist_url, do_url, messages_of
from tests.factories import ticket_in_state, user_with
from tests.web.conftest import login
from workorders import services
from workorders.errors import Conflict, Stale
from workorders.models import AuditEntry, ExtensionRequest, State, Ticket
from workorders.services.common import _save, _snapshot

pytestmark = pytest.mark.django_db

STALE_ZH = "工单已被更新，您看到的版本已过期，请刷新后重试。"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _admin(user):
    from django.test import Client

    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


def _hidden(html: str, name: str) -> int:
    found = re.search(rf'name="{name}" value="(\d+)"', html)
    assert found, name
    return int(found.group(1))


# --------------------------------------------------------------------------- the model's net


def test_a_save_from_a_stale_read_changes_nothing(cast):
    """Even a path that forgot the lock cannot overwrite: the UPDATE names the version."""
    t = ticket_in_state(cast, State.DISPATCHED)
    stale = Ticket.objects.get(pk=t.pk)
    services.ticket_redispatch(ticket=t, by=cast.dispatcher, department=cast.business, reason="x")
    before = _snapshot(stale)
    stale.redispatch_count += 1
    stale.department = cast.channel
    with pytest.raises(Conflict), transaction.atomic():
        _save(stale, before)
    fresh = Ticket.objects.get(pk=t.pk)
    assert (fresh.department, fresh.redispatch_count) == (cast.business, 1)


def test_same_state_transition_with_the_version_seen_is_refused_once_it_moved(cast):
    """django-fsm's own guard compares only the state; dispatched → dispatched passed it."""
    t = ticket_in_state(cast, State.DISPATCHED)
    seen = t.version
    services.ticket_redispatch(ticket=t, by=cast.dispatcher, department=cast.business, reason="x")
    stale = Ticket.objects.get(pk=t.pk)
    with pytest.raises(Stale):
        services.ticket_redispatch(
            ticket=stale,
            by=cast.dispatcher,
            department=cast.channel,
            reason="y",
            expected_version=seen,
        )
    fresh = Ticket.objects.get(pk=t.pk)
    assert (fresh.department, fresh.redispatch_count) == (cast.business, 1)
    assert AuditEntry.objects.filter(ticket=t, transition="redispatch").count() == 1


def test_a_service_reads_the_order_again_before_deciding(cast):
    """An instance read before someone else's change is brought up to date under the lock:
    counters continue from the row, not from the stale copy."""
    t = ticket_in_state(cast, State.DISPATCHED)
    stale = Ticket.objects.get(pk=t.pk)
    services.ticket_redispatch(ticket=t, by=cast.dispatcher, department=cast.business, reason="x")
    services.ticket_redispatch(
        ticket=stale, by=cast.dispatcher, department=cast.channel, reason="y"
    )
    fresh = Ticket.objects.get(pk=t.pk)
    assert (fresh.department, fresh.redispatch_count) == (cast.channel, 2)
    running = Clock.objects.filter(
        ticket=t, kind=ClockKind.SIGN_FOR, stopped_at__isnull=True, voided=False
    )
    assert [c.department_id for c in running] == [cast.channel.pk]


# --------------------------------------------------------------------------- admin


def test_admin_form_carries_the_version_and_a_stale_submit_is_told(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    c = _admin(cast.dispatcher)
    seen = _hidden(c.get(do_url(t, "redispatch")).content.decode(), "version")
    assert seen == t.version
    services.ticket_redispatch(ticket=t, by=cast.dispatcher, department=cast.business, reason="x")
    data = {"department": cast.channel.pk, "reason": "晚了一步", "version": seen}
    response = c.post(do_url(t, "redispatch"), data, follow=True)
    assert response.redirect_chain[-1][0] == change_url(t)
    assert f"{t.number}：{STALE_ZH}" in messages_of(response)
    fresh = Ticket.objects.get(pk=t.pk)
    assert (fresh.department, fresh.redispatch_count) == (cast.business, 1)


def test_admin_stale_message_in_english(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    c = _admin(cast.dispatcher)
    c.cookies["django_language"] = "en"
    seen = t.version
    services.ticket_claim(ticket=t, by=cast.lead)
    response = c.post(do_url(t, "cancel"), {"reason": "dup", "version": seen}, follow=True)
    assert any("changed since you loaded it" in m for m in messages_of(response)), messages_of(
        response
    )


def test_a_form_without_version_is_judged_by_the_fresh_state(cast):
    """A submit that names no version (an old page) still cannot act on a stale state."""
    t = ticket_in_state(cast, State.DISPATCHED)
    services.ticket_claim(ticket=Ticket.objects.get(pk=t.pk), by=cast.lead)
    response = _admin(cast.dispatcher).post(do_url(t, "cancel"), {"reason": "重复"}, follow=True)
    assert any("不能执行此操作" in m for m in messages_of(response)), messages_of(response)
    assert Ticket.objects.get(pk=t.pk).state == State.ACCEPTED


def test_bulk_form_carries_each_version_and_a_stale_order_is_told(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    second = user_with("handler", department=cast.network, username="t_handler_b")
    c = _admin(cast.lead)
    form = {"action": "assign_handler", ACTION_CHECKBOX_NAME: [t.pk], "index": 0}
    seen = _hidden(c.post(changelist_url(), form).content.decode(), f"version_{t.pk}")
    services.ticket_assign(ticket=t, by=cast.lead, handler=second)
    data = {
        "action": "assign_handler",
        ACTION_CHECKBOX_NAME: [t.pk],
        "apply": "1",
        "handler": cast.handler.pk,
        f"version_{t.pk}": seen,
    }
    msgs = messages_of(c.post(changelist_url(), data, follow=True))
    assert f"{t.number} 未执行：{STALE_ZH}" in msgs, msgs
    assert Ticket.objects.get(pk=t.pk).handler == second


def test_bulk_form_shown_again_keeps_the_versions_it_first_showed(cast):
    t = ticket_in_state(cast, State.REPORTED)
    c = _admin(cast.dispatcher)
    data = {
        "action": "dispatch_to_department",
        ACTION_CHECKBOX_NAME: [t.pk],
        "apply": "1",
        f"version_{t.pk}": "1",
    }
    services.ticket_change_urgency(ticket=t, by=cast.dispatcher, urgency="urgent", reason="升级")
    page = c.post(changelist_url(), data)  # no department: the form again
    assert page.status_code == 200
    assert _hidden(page.content.decode(), f"version_{t.pk}") == 1


# --------------------------------------------------------------------------- phone pages


def test_phone_verdict_on_a_page_that_went_stale_is_told_and_shown_fresh(cast):
    t = ticket_in_state(cast, State.REPLIED)
    front = login(cast.frontline)
    url = reverse("web:order", args=[t.number])
    seen = _hidden(front.get(url).content.decode(), "version")
    services.ticket_change_urgency(ticket=t, by=cast.dispatcher, urgency="urgent", reason="升级")
    verdict = {"resolved": "yes", "satisfaction": "satisfied", "version": seen}
    response = front.post(reverse("web:order_verdict", args=[t.number]), verdict)
    assert response.status_code == Stale.http_status
    html = response.content.decode()
    assert STALE_ZH in html
    assert Ticket.objects.get(pk=t.pk).state == State.REPLIED
    # The page now shows the order as it is, and the form carries that version.
    fresh = Ticket.objects.get(pk=t.pk)
    assert _hidden(html, "version") == fresh.version
    verdict["version"] = fresh.version
    ok = front.post(reverse("web:order_verdict", args=[t.number]), verdict)
    assert ok.status_code == 302
    assert Ticket.objects.get(pk=t.pk).state == State.CLOSED


# --------------------------------------------------------------------------- API


def test_api_decision_with_a_stale_if_match_is_412_and_decides_nothing(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    req = services.ticket_request_extension(ticket=t, by=cast.handler, hours=10, reason="备件")
    client = api_client(cast.supervisor)
    etag = client.get(f"/api/v1/tickets/{t.number}/").headers["ETag"]
    services.ticket_assign(ticket=t, by=cast.lead, handler=cast.lead)
    url = f"/api/v1/tickets/{t.number}/extensions/{req.pk}/approve/"
    r = client.post(url, {}, format="json", HTTP_IF_MATCH=etag)
    assert r.status_code == 412 and r.json()["error"]["code"] == "stale"
    assert ExtensionRequest.objects.get(pk=req.pk).status == "pending"
    assert Ticket.objects.get(pk=t.pk).extension_count == 0
    fresh = client.get(f"/api/v1/tickets/{t.number}/").headers["ETag"]
    assert client.post(url, {}, format="json", HTTP_IF_MATCH=fresh).status_code == 200


def test_api_if_match_naming_another_order_is_412(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    r = api_client(cast.lead).post(
        f"/api/v1/tickets/{t.number}/transitions/claim/",
        {},
        format="json",
        HTTP_IF_MATCH=f'"GD19990101000001-v{t.version}"',
    )
    assert r.status_code == 412
    assert Ticket.objects.get(pk=t.pk).state == State.DISPATCHED
