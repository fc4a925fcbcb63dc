"""A notification is stored in every site language: the inbox (web page, API) shows it in the
language its reader uses now; the e-mail goes out in the recipient's saved language."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from notifications.models import Notification
from sla.engine import sla_sweep
from tests.factories import ticket_in_state
from tests.sla.conftest import T0
from workorders import services
from workorders.models import State

pytestmark = pytest.mark.django_db

GENERAL = timedelta(hours=48)


def remind(cast, django_capture_on_commit_callbacks):
    cast.handler.email = "handler@example.com"
    cast.handler.save()
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=T0 + GENERAL / 2)
    return t, Notification.objects.get(ticket=t, kind="remind", recipient=cast.handler)


def test_every_language_is_stored_and_the_mail_uses_the_saved_one(
    cast, django_capture_on_commit_callbacks
):
    t, n = remind(cast, django_capture_on_commit_callbacks)
    assert set(n.texts) == {"zh-hans", "en"}
    assert n.texts["zh-hans"][0] == n.title and "提醒" in n.title
    assert n.texts["en"][0].startswith(f"[Remind] Order {t.number}")
    assert "1 d 0 h left" in n.texts["en"][1]
    # (The handler's other mail: the order was assigned to him when it was claimed.)
    (message,) = [m for m in mail.outbox if m.subject == n.title]
    assert message.subject == n.title and message.body == n.body  # Chinese: the saved language


def test_the_inbox_follows_the_readers_language_now(cast, django_capture_on_commit_callbacks):
    t, n = remind(cast, django_capture_on_commit_callbacks)
    web = Client()
    web.force_login(cast.handler)
    zh = web.get(reverse("web:notifications")).content.decode()
    assert n.texts["zh-hans"][0] in zh
    web.post(reverse("set_language"), {"language": "en", "next": "/"})
    en = web.get(reverse("web:notifications")).content.decode()
    assert f"[Remind] Order {t.number}" in en and n.texts["zh-hans"][0] not in en
    assert "1 d 0 h left" in en

    api = APIClient()
    api.force_authenticate(cast.handler)
    body = api.get("/api/v1/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()
    (item,) = [i for i in body["results"] if i["id"] == n.pk]
    assert item["title"] == n.texts["en"][0] and item["body"] == n.texts["en"][1]
    body = api.get("/api/v1/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    (item,) = [i for i in body["results"] if i["id"] == n.pk]
    assert item["title"] == n.texts["zh-hans"][0]


def test_reporter_and_chase_notifications_carry_both_languages(cast):
    t = ticket_in_state(cast, State.REPORTED)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
    n = Notification.objects.get(ticket=t, kind="dispatched", recipient=cast.frontline)
    assert "已派单" in n.texts["zh-hans"][0]
    assert t.number in n.texts["en"][0] and not any(
        "\u4e00" <= c <= "\u9fff" for c in n.texts["en"][0]
    )


def test_an_old_row_without_texts_shows_what_was_stored(cast):
    n = Notification.objects.create(
        recipient=cast.handler, kind="other", title="旧通知", body="正文", key="k1", created_at=T0
    )
    assert n.shown_title == "旧通知" and n.shown_body == "正文"
