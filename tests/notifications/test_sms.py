"""The SMS channel: segments, backends (file, console, HTTP to a local stub), templates as data,
signed receipt and inbound callbacks, opt-out by each keyword, and where staff see the texts."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers.services import status_link_for
from notifications.models import (
    DeliveryStatus,
    SmsEvent,
    SmsInbound,
    SmsOptOut,
    SmsTemplate,
)
from notifications.services import verify_signature
from notifications.sms import (
    ConsoleBackend,
    HttpBackend,
    SmsError,
    SmsMessage,
    sms_segments,
)
from tests.factories import report, ticket_in_state, user_with
from tests.notifications.sms_helpers import (
    CALLBACK_SECRET,
    deliver,
    sent_lines,
    signed_post,
    sms_rows,
)

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _sms(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = tmp_path / "sms"
    settings.SMS_CALLBACK_SECRET = CALLBACK_SECRET
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    settings.SMS_DAILY_CAP = 6
    settings.SMS_COALESCE_SECONDS = 60


# --------------------------------------------------------------------------- segments


@pytest.mark.parametrize(
    ("length", "parts"), [(0, 0), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3)]
)
def test_segments_are_70_characters_or_67_per_part(length, parts):
    assert sms_segments("字" * length) == parts


def test_a_character_outside_the_basic_plane_counts_twice():
    assert sms_segments("字" * 69 + "😀") == 2


# --------------------------------------------------------------------------- backends

MESSAGE = SmsMessage(
    to="13800138000",
    text="【吹哨服务】您的工单已受理。",
    template_code="WS_ACCEPTED",
    params={"number": "GD1"},
    key="sms:1:accepted:report",
    sign_name="【吹哨服务】",
)


def test_file_backend_writes_one_json_line_per_text(settings):
    from notifications.sms import FileBackend

    FileBackend().send(MESSAGE)
    FileBackend().send(MESSAGE)
    lines = sent_lines()
    assert len(lines) == 2
    assert {
        k: lines[0][k] for k in ("to", "text", "template_code", "params", "idempotency_key")
    } == {
        "to": "13800138000",
        "text": "【吹哨服务】您的工单已受理。",
        "template_code": "WS_ACCEPTED",
        "params": {"number": "GD1"},
        "idempotency_key": "sms:1:accepted:report",
    }


def test_console_backend_prints_the_text():
    out = StringIO()
    ConsoleBackend(stream=out).send(MESSAGE)
    assert "13800138000" in out.getvalue() and "您的工单已受理" in out.getvalue()


class Gateway:
    """A local SMS platform: records each POST, answers `status` with `body`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status, self.body = 200, {"message_id": "m-1"}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gateway.requests.append({"headers": dict(self.headers), "body": raw})
                data = json.dumps(gateway.body).encode()
                self.send_response(gateway.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(settings):
    g = Gateway()
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = g.url
    settings.SMS_HTTP_SECRET = "gateway-secret"
    yield g
    g.close()


def test_http_backend_posts_signed_json_with_the_key(gateway):
    sent = HttpBackend().send(MESSAGE)
    assert sent.provider_id == "m-1" and sent.status_code == 200
    request = gateway.requests[0]
    body = json.loads(request["body"])
    assert body == {
        "to": "13800138000",
        "sign_name": "【吹哨服务】",
        "template_code": "WS_ACCEPTED",
        "params": {"number": "GD1"},
        "text": "【吹哨服务】您的工单已受理。",
        "segments": 1,
        "idempotency_key": "sms:1:accepted:report",
    }
    assert verify_signature(
        "gateway-secret", request["body"], request["headers"]["X-Whistle-Signature"]
    )
    assert request["headers"]["X-Whistle-Delivery"] == "sms:1:accepted:report"


@pytest.mark.parametrize(
    ("status", "body", "temporary"),
    [
        (500, {}, True),
        (503, {"error": "busy"}, True),
        (429, {}, True),
        (400, {"error": "bad number"}, False),
        (403, {"error": "template not approved"}, False),
        (400, {"error": "throttled", "temporary": True}, True),
    ],
)
def test_http_backend_tells_temporary_from_permanent_refusals(gateway, status, body, temporary):
    gateway.status, gateway.body = status, body
    with pytest.raises(SmsError) as exc:
        HttpBackend().send(MESSAGE)
    assert exc.value.temporary is temporary and exc.value.code == status
    if body.get("error"):
        assert body["error"] in exc.value.message


def test_http_backend_times_out():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        with pytest.raises(SmsError) as exc:
            HttpBackend(url=url, secret="s", timeout=(1, 0.3)).send(MESSAGE)
    finally:
        listener.close()
    assert exc.value.temporary and exc.value.message == "timeout"


def test_a_refused_text_is_recorded_and_retried_only_when_temporary(cast, gateway):
    report(cast, now=MORNING, phone="13900000001")
    gateway.status, gateway.body = 503, {"error": "busy"}
    deliver(MORNING + timedelta(minutes=2))
    row = sms_rows().get()
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 503)
    assert "busy" in row.last_error and row.next_attempt_at > MORNING + timedelta(minutes=2)
    gateway.status, gateway.body = 400, {"error": "number barred"}
    deliver(MORNING + timedelta(hours=2))
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 2)
    assert "number barred" in row.last_error
    assert deliver(MORNING + timedelta(hours=5)).claimed == 0  # given up: never sent again
    assert len(gateway.requests) == 2


def test_the_platforms_message_id_is_kept_for_the_receipt(cast, gateway):
    gateway.body = {"message_id": "plat-42"}
    report(cast, now=MORNING)
    deliver(MORNING + timedelta(minutes=2))
    row = sms_rows().get()
    assert row.status == DeliveryStatus.SENT and row.provider_message_id == "plat-42"


# --------------------------------------------------------------------------- templates


def test_default_templates_ship_for_every_event(db):
    active = dict(SmsTemplate.objects.filter(active=True).values_list("event", "code"))
    assert set(active) == set(SmsEvent.values)
    for template in SmsTemplate.objects.all():
        template.full_clean()  # every shipped text passes its own check


@pytest.mark.parametrize(
    ("event", "text", "message"),
    [
        ("accepted", "工单{number}，处理人{handler}。{status_url}", "该事件没有变量 {handler}"),
        ("closed", "工单{number}已办结，{reply}。{status_url}", "该事件没有变量 {reply}"),
        ("accepted", "工单{number}已受理。", "必须包含变量 {status_url}"),
        ("replied", "已答复：{reply}。{status_url}", "必须包含变量 {survey_url}"),
        ("accepted", "工单{number:>5}。{status_url}", "写法不对"),
        ("accepted", "工单{number。{status_url}", "花括号不成对"),
        ("accepted", "工单{ticket.number}。{status_url}", "写法不对"),
    ],
)
def test_a_template_its_event_cannot_fill_is_refused_at_save(db, event, text, message):
    template = SmsTemplate(code="X1", event=event, text=text, active=False)
    with pytest.raises(ValidationError) as exc:
        template.full_clean()
    assert message in " ".join(exc.value.message_dict["text"])


def _superuser(client):
    admin = user_with(username="t_root", is_superuser=True)
    client.force_login(admin)
    return admin


def test_the_admin_refuses_a_bad_template_and_keeps_the_input(db, client):
    _superuser(client)
    template = SmsTemplate.objects.get(event="closed", active=True)
    url = reverse("admin:notifications_smstemplate_change", args=[template.pk])
    bad = "您的工单{number}已由{handler}办结。{status_url}"
    response = client.post(
        url, {"code": template.code, "event": "closed", "active": "on", "text": bad}
    )
    assert response.status_code == 200
    assert "该事件没有变量 {handler}" in response.content.decode()
    assert bad in response.content.decode()  # what was typed is still in the form
    template.refresh_from_db()
    assert "{handler}" not in template.text
    good = "您的工单{number}已办结，欢迎评价。{status_url}"
    response = client.post(
        url, {"code": template.code, "event": "closed", "active": "on", "text": good}
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.text == good


def test_only_one_active_template_per_event(db, client):
    _superuser(client)
    response = client.post(
        reverse("admin:notifications_smstemplate_add"),
        {
            "code": "WS_CLOSED_2",
            "event": "closed",
            "active": "on",
            "text": "工单{number}办结。{status_url}",
        },
    )
    assert response.status_code == 200
    assert not SmsTemplate.objects.filter(code="WS_CLOSED_2").exists()


def test_templates_are_for_superusers_only(cast, client):
    client.force_login(cast.dispatcher)
    assert client.get(reverse("admin:notifications_smstemplate_changelist")).status_code == 403


def test_an_event_without_an_active_template_sends_nothing(cast):
    SmsTemplate.objects.filter(event="accepted").update(active=False)
    report(cast, now=MORNING)
    assert not sms_rows().exists()


def test_the_sign_name_is_a_setting(cast, settings):
    settings.SMS_SIGN_NAME = "【某某通信】"
    report(cast, now=MORNING)
    deliver(MORNING + timedelta(minutes=2))
    assert sent_lines()[0]["text"].startswith("【某某通信】")


# --------------------------------------------------------------------------- callbacks


def _sent_text(cast, gateway=None):
    report(cast, now=MORNING)
    deliver(MORNING + timedelta(minutes=2))
    return sms_rows().get()


@pytest.mark.parametrize("url", ["/sms/receipt/", "/sms/inbound/"])
@pytest.mark.parametrize("signature", [False, "sha256=0000", "wrong"])
def test_callbacks_refuse_a_missing_or_wrong_signature(db, client, url, signature):
    response = signed_post(
        client,
        url,
        {
            "idempotency_key": "x",
            "status": "delivered",
            "id": "1",
            "from": "13800138000",
            "text": "TD",
        },
        signature=signature,
    )
    assert response.status_code == 403
    assert not SmsInbound.objects.exists() and not SmsOptOut.objects.exists()


@pytest.mark.parametrize("url", ["/sms/receipt/", "/sms/inbound/"])
def test_callbacks_refuse_everything_without_a_secret(db, client, settings, url):
    settings.SMS_CALLBACK_SECRET = ""
    response = signed_post(client, url, {"id": "1", "from": "13800138000", "text": "TD"}, secret="")
    assert response.status_code == 403


def test_callbacks_signed_with_another_secret_are_refused(db, client):
    response = signed_post(
        client,
        "/sms/inbound/",
        {"id": "1", "from": "13800138000", "text": "TD"},
        secret="not-the-secret",
    )
    assert response.status_code == 403


def test_a_receipt_is_kept_on_the_text_once(cast, client):
    row = _sent_text(cast)
    at = "2026-03-02T09:02:30+08:00"
    response = signed_post(
        client, "/sms/receipt/", {"idempotency_key": row.key, "status": "delivered", "at": at}
    )
    assert response.status_code == 200 and response.json()["results"][0]["receipt"] == "delivered"
    row.refresh_from_db()
    assert row.receipt_status == "delivered"
    assert row.receipt_at == datetime(2026, 3, 2, 9, 2, 30, tzinfo=TZ)
    # The platform repeats itself, or contradicts itself later: the first receipt stays.
    signed_post(client, "/sms/receipt/", {"idempotency_key": row.key, "status": "delivered"})
    signed_post(
        client, "/sms/receipt/", {"idempotency_key": row.key, "status": "failed", "error": "late"}
    )
    row.refresh_from_db()
    assert (row.receipt_status, row.receipt_error) == ("delivered", "")


def test_a_failed_receipt_by_the_platforms_id_is_kept_with_its_error(cast, client):
    row = _sent_text(cast)
    sms_rows().update(provider_message_id="plat-7")
    response = signed_post(
        client, "/sms/receipt/", [{"message_id": "plat-7", "status": "failed", "error": "UNDELIV"}]
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.receipt_status, row.receipt_error) == ("failed", "UNDELIV")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"idempotency_key": "sms:none", "status": "delivered"}, 404),
        ({"idempotency_key": "x", "status": "read"}, 400),
        ({"status": "delivered"}, 400),
        ("not an object", 400),
    ],
)
def test_bad_receipts_are_answered_plainly(db, client, body, status):
    assert signed_post(client, "/sms/receipt/", body).status_code == status


def test_a_receipt_with_a_body_that_is_not_json_is_a_400(db, client):
    from notifications.services import SIGNATURE_HEADER, sign

    body = b"\xff{not json"
    response = client.post(
        "/sms/receipt/",
        data=body,
        content_type="application/json",
        **{"HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_"): sign(CALLBACK_SECRET, body)},
    )
    assert response.status_code == 400


def test_callbacks_take_post_only(db, client):
    assert client.get("/sms/receipt/").status_code == 405


# --------------------------------------------------------------------------- opt-out


@pytest.mark.parametrize("word", ["TD", "T", "退订", "0000", " td ", "t"])
def test_an_opt_out_reply_by_each_keyword_is_recorded_and_confirmed_once(cast, client, word):
    ticket = report(cast, now=MORNING)
    deliver(MORNING + timedelta(minutes=2))
    response = signed_post(
        client,
        "/sms/inbound/",
        {"id": "in-1", "from": "+8613800138000", "text": word, "at": "2026-03-02T09:10:00+08:00"},
    )
    assert response.status_code == 200 and response.json()["results"][0]["opt_out"] is True
    opt = SmsOptOut.objects.get()
    assert opt.phone == "13800138000" and opt.active
    assert opt.at == datetime(2026, 3, 2, 9, 10, tzinfo=TZ)
    assert opt.source == f"sms:{word.strip().upper()}"
    assert opt.ticket_id == ticket.pk
    # The same callback again, and a second TD: still one opt-out, one confirmation.
    signed_post(client, "/sms/inbound/", {"id": "in-1", "from": "13800138000", "text": word})
    signed_post(client, "/sms/inbound/", {"id": "in-2", "from": "13800138000", "text": "TD"})
    deliver(MORNING + timedelta(minutes=12))
    confirmations = [line for line in sent_lines() if line["template_code"] == "WS_OPT_OUT"]
    assert len(confirmations) == 1 and confirmations[0]["to"] == "13800138000"
    assert SmsInbound.objects.count() == 2 and SmsOptOut.objects.count() == 1
    # No more texts about the order; its status page still works.
    before = len(sent_lines())
    services_dispatch(cast, ticket, MORNING + timedelta(minutes=20))
    deliver(MORNING + timedelta(minutes=25))
    assert len(sent_lines()) == before
    client.logout()
    assert client.get(status_link_for(ticket)).status_code == 200


def services_dispatch(cast, ticket, now):
    from workorders import services

    services.ticket_dispatch(ticket=ticket, by=cast.dispatcher, department=cast.network, now=now)


def test_the_confirmation_goes_out_even_in_quiet_hours(cast, client):
    report(cast, now=MORNING)
    night = "2026-03-02T23:30:00+08:00"
    signed_post(
        client, "/sms/inbound/", {"id": "in-9", "from": "13800138000", "text": "TD", "at": night}
    )
    deliver(datetime(2026, 3, 2, 23, 31, tzinfo=TZ))
    assert [line["template_code"] for line in sent_lines()] == ["WS_OPT_OUT"]


@pytest.mark.parametrize("text", ["谢谢", "TD一下", "好的，T恤收到了", ""])
def test_other_replies_are_kept_without_opting_out(db, client, text):
    response = signed_post(
        client, "/sms/inbound/", {"id": "in-3", "from": "13800138000", "text": text}
    )
    assert response.status_code == 200
    assert SmsInbound.objects.get().text == text and not SmsOptOut.objects.exists()


def test_an_inbound_reply_without_an_id_is_a_400(db, client):
    response = signed_post(client, "/sms/inbound/", {"from": "13800138000", "text": "TD"})
    assert response.status_code == 400 and not SmsOptOut.objects.exists()


def test_the_admin_shows_opt_outs_and_customer_service_clears_them(cast, client):
    opt = SmsOptOut.objects.create(phone="13800138000", at=MORNING, source="sms:TD")
    changelist = reverse("admin:notifications_smsoptout_changelist")
    client.force_login(cast.supervisor)
    page = client.get(changelist).content.decode()
    assert "138****8000" in page and "13800138000" not in page  # masked for the supervisor
    client.post(changelist, {"action": "clear", "_selected_action": [opt.pk]})
    opt.refresh_from_db()
    assert opt.active  # the supervisor may not clear it
    client.force_login(cast.dispatcher)
    page = client.get(changelist).content.decode()
    assert "13800138000" in page
    client.post(changelist, {"action": "clear", "_selected_action": [opt.pk]})
    opt.refresh_from_db()
    assert not opt.active and opt.cleared_by == cast.dispatcher


def test_a_number_may_opt_out_again_after_it_was_cleared(cast, client):
    from notifications.sms_channel import sms_opt_out_clear

    signed_post(client, "/sms/inbound/", {"id": "a", "from": "13800138000", "text": "TD"})
    sms_opt_out_clear(opt_out=SmsOptOut.objects.get(), by=cast.dispatcher)
    signed_post(client, "/sms/inbound/", {"id": "b", "from": "13800138000", "text": "退订"})
    opt = SmsOptOut.objects.get()
    assert opt.active and opt.source == "sms:退订"
    assert sms_rows(kind="opt_out").count() == 2


# --------------------------------------------------------------------------- where staff see it


def test_the_api_lists_an_orders_texts_masked_for_roles_without_full_numbers(cast, client):
    ticket = ticket_in_state(cast, "accepted", now=MORNING)
    deliver(MORNING + timedelta(hours=1))
    url = f"/api/v1/tickets/{ticket.number}/customer-messages/"
    client.force_login(cast.auditor)
    rows = client.get(url).json()
    assert [r["event"] for r in rows] == ["accepted", "dispatched"]
    assert {r["to"] for r in rows} == {"138****8000"}
    assert rows[0]["status"] == "sent" and rows[0]["segments"] >= 1
    assert ticket.number in rows[0]["text"]
    client.force_login(cast.handler)
    assert {r["to"] for r in client.get(url).json()} == {"13800138000"}
    client.force_login(cast.other_frontline)
    assert client.get(url).status_code == 404  # may not see the order


def test_the_texts_are_on_the_order_timeline(cast, client):
    ticket = ticket_in_state(cast, "dispatched", now=MORNING)
    deliver(MORNING + timedelta(hours=1))
    client.force_login(cast.auditor)
    timeline = client.get(f"/api/v1/tickets/{ticket.number}/timeline/").json()
    texts = [i["text"] for i in timeline if i["type"] == "customer_message"]
    assert len(texts) == 2 and all("138****8000" in t for t in texts)
    assert "13800138000" not in json.dumps(timeline, ensure_ascii=False)
    client.force_login(cast.frontline)
    page = client.get(reverse("web:order", args=[ticket.number])).content.decode()
    assert "客户短信" in page and "13800138000" in page  # the reporter typed the number


def test_the_admin_order_page_and_message_list_mask_the_number(cast, client):
    ticket = ticket_in_state(cast, "dispatched", now=MORNING)
    deliver(MORNING + timedelta(hours=1))
    client.force_login(cast.supervisor)
    page = client.get(reverse("admin:workorders_ticket_change", args=[ticket.pk])).content
    page = page.decode()
    assert "客户短信" in page and "138****8000" in page
    listing = client.get(reverse("admin:notifications_customermessage_changelist"))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert ticket.number in body and "138****8000" in body and "13800138000" not in body
    client.force_login(cast.lead)
    body = client.get(reverse("admin:notifications_customermessage_changelist")).content.decode()
    assert "13800138000" in body


def test_the_message_list_shows_only_orders_the_user_may_see(cast, client):
    mine = ticket_in_state(cast, "dispatched", now=MORNING)
    other_lead = cast.other_lead
    deliver(MORNING + timedelta(hours=1))
    client.force_login(other_lead)
    body = client.get(reverse("admin:notifications_customermessage_changelist")).content.decode()
    assert mine.number not in body


# --------------------------------------------------------------------------- reports


def test_kpis_count_texts_sent_failed_and_opt_outs(cast, client, settings):
    from reports.kpis import Period, kpi_summary

    report(cast, now=MORNING, phone="13900000001")
    report(cast, now=MORNING, phone="13900000002")
    deliver(MORNING + timedelta(minutes=2))
    sms_rows().filter(address="13900000002").update(status=DeliveryStatus.FAILED)
    signed_post(
        client,
        "/sms/inbound/",
        {"id": "x", "from": "13900000001", "text": "TD", "at": "2026-03-02T10:00:00+08:00"},
    )
    period = Period(MORNING - timedelta(hours=9), MORNING + timedelta(hours=15), "custom")
    row = kpi_summary(user=cast.auditor, period=period)
    assert (row.counts["sms_sent"], row.counts["sms_failed"], row.counts["sms_opt_outs"]) == (
        1,
        1,
        1,
    )


def test_production_refuses_the_http_backend_without_its_url_and_secrets(tmp_path):
    import secrets as random

    from tests.config.test_security import run_python

    base = {"DEBUG": "0", "SECRET_KEY": random.token_urlsafe(64), "SMS_BACKEND": "http"}
    code = ("-c", "import django; django.setup()")
    proc = run_python(code, tmp_path, **base, SMS_HTTP_URL="https://sms.example.com/send")
    assert proc.returncode != 0
    assert "SMS_BACKEND=http needs SMS_HTTP_SECRET, SMS_CALLBACK_SECRET" in proc.stderr
    proc = run_python(
        code,
        tmp_path,
        **base,
        SMS_HTTP_URL="https://sms.example.com/send",
        SMS_HTTP_SECRET="s1",
        SMS_CALLBACK_SECRET="s2",
    )
    assert proc.returncode == 0, proc.stderr
