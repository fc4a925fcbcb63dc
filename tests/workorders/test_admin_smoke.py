"""Every model is registered in the admin and its pages render; the dispatcher can log in and
see orders with their states and due times (the issue's "done when")."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import ticket_in_state
from workorders.models import State

APPS = {"accounts", "workorders", "sla"}


def registered_models():
    from django.apps import apps

    return [m for app in sorted(APPS) for m in apps.get_app_config(app).get_models()]


# Data with a page of its own; the records on an order are shown on the order's page.
OWN_PAGE = {
    "accounts.Department",
    "accounts.User",
    "workorders.Category",
    "workorders.Ticket",
    "workorders.AuditEntry",
    "sla.SlaPolicy",
    "sla.Clock",
    "sla.SlaEvent",
}


def test_reference_data_orders_clocks_and_audit_are_registered():
    from django.apps import apps

    missing = [
        label for label in sorted(OWN_PAGE) if not admin.site.is_registered(apps.get_model(label))
    ]
    assert missing == []


def test_records_on_an_order_are_shown_on_its_page(cast, client):
    from datetime import timedelta

    from django.utils import timezone

    from workorders import services

    ticket = ticket_in_state(cast, State.ACCEPTED)
    now = timezone.now()
    services.ticket_comment(ticket=ticket, by=cast.lead, body="已联系客户约上门", now=now)
    services.ticket_chase(ticket=ticket, by=cast.frontline, note="客户再次来电催促", now=now)
    services.ticket_request_extension(
        ticket=ticket, by=cast.handler, hours=6, reason="等待光猫配件到货", now=now
    )
    services.ticket_request_suspension(
        ticket=ticket,
        by=cast.handler,
        reason="appointment",
        until=now + timedelta(days=1),
        note="客户明天下午在家",
        now=now,
    )
    services.ticket_supervise(ticket=ticket, by=cast.supervisor, note="请今日内处理完毕", now=now)
    client.force_login(cast.dispatcher)
    resp = client.get(reverse("admin:workorders_ticket_change", args=[ticket.pk]))
    assert resp.status_code == 200
    body = resp.content.decode()
    for text in (
        "已联系客户约上门",
        "客户再次来电催促",
        "等待光猫配件到货",
        "客户明天下午在家",
        "请今日内处理完毕",
    ):
        assert text in body, text


def test_changelists_and_change_pages_render_for_a_superuser(cast, client, django_user_model):
    for state in State.values:
        ticket_in_state(cast, state)
    root = django_user_model.objects.create_superuser("t_root", password="x-pass-123")
    client.force_login(root)
    for model in registered_models():
        if not admin.site.is_registered(model):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        resp = client.get(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        assert resp.status_code == 200, model
        obj = model._default_manager.first()
        if obj is not None:
            resp = client.get(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))
            assert resp.status_code == 200, model


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_dispatcher_sees_orders_with_state_and_due_time(cast, client, lang):
    ticket = ticket_in_state(cast, State.ACCEPTED)
    client.force_login(cast.dispatcher)
    resp = client.get(
        reverse("admin:workorders_ticket_changelist"), headers={"accept-language": lang}
    )
    assert resp.status_code == 200
    body = resp.content.decode()
    assert ticket.number in body
    assert ("已报到/处理中" if lang == "zh-hans" else "Claimed / in progress") in body
    if lang == "zh-hans":
        # The time-left column, with the promise's due time under each badge.
        assert "剩余时间" in body and 'class="bo-due"' in body
