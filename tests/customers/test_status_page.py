"""The status page /s/<token>/: token entropy and storage, expiry, one 404 for every bad
token, privacy (masked phone, no staff, no internal notes, no other orders), headers and the
per-address limit."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from customers import services, tokens
from customers.models import StatusLink
from tests.factories import report, ticket_in_state
from workorders import services as wo
from workorders.models import State

pytestmark = pytest.mark.django_db


def token_of(path: str) -> str:
    return re.fullmatch(r"/s/([A-Za-z0-9_-]+)/", path).group(1)


def test_every_reported_order_gets_one_link_and_the_token_is_long_random_and_url_safe(cast):
    tickets = [report(cast, phone=f"1380013{i:04d}") for i in range(20)]
    assert StatusLink.objects.count() == 20  # created with the order (REPORTED event)
    toks = {token_of(services.status_link_for(t)) for t in tickets}
    assert len(toks) == 20
    for tok in toks:
        # 22 characters of URL-safe base64 = 132 bits (≥ 72 asked).
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", tok)
    nonces = set(StatusLink.objects.values_list("nonce", flat=True))
    assert len(nonces) == 20 and all(len(n) == 32 for n in nonces)  # 128 random bits each


def test_only_the_hash_of_the_token_is_stored_and_the_link_is_stable(cast):
    t = report(cast)
    path = services.status_link_for(t)
    tok = token_of(path)
    link = StatusLink.objects.get(ticket=t)
    assert link.token_hash == hashlib.sha256(tok.encode()).hexdigest()
    stored = " ".join(str(v) for v in StatusLink.objects.filter(pk=link.pk).values().get().values())
    assert tok not in stored
    assert services.status_link_for(t) == path  # rebuilt, not stored
    assert StatusLink.objects.count() == 1


def test_a_link_survives_a_key_rotation_through_the_fallback_keys(cast, settings):
    t = report(cast)
    path = services.status_link_for(t)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert services.status_link_for(t) == path
    assert Client().get(path).status_code == 200


def test_link_expires_30_days_after_close_and_cancel(cast):
    t = ticket_in_state(cast, State.CLOSED)
    link = StatusLink.objects.get(ticket=t)
    assert link.expires_at == t.closed_at + timedelta(days=30)
    c = ticket_in_state(cast, State.CANCELLED, phone="13900000001")
    assert StatusLink.objects.get(ticket=c).expires_at == c.cancelled_at + timedelta(days=30)
    open_one = ticket_in_state(cast, State.REPLIED, phone="13900000002")
    assert StatusLink.objects.get(ticket=open_one).expires_at is None


def test_an_order_without_a_link_gets_one_on_demand_already_expiring_if_closed(cast):
    t = ticket_in_state(cast, State.CLOSED)
    StatusLink.objects.filter(ticket=t).delete()  # an order from before status links
    services.status_link_for(t)
    assert StatusLink.objects.get(ticket=t).expires_at == t.closed_at + timedelta(days=30)


def _not_found_body(resp) -> bytes:
    # The CSRF token differs per response; the 404 page has no form, so bodies compare whole.
    return resp.content


def test_wrong_expired_and_malformed_tokens_get_the_same_404_after_the_same_work(
    cast, django_assert_num_queries
):
    t = ticket_in_state(cast, State.CLOSED)
    path = services.status_link_for(t)
    client = Client()
    assert client.get(path).status_code == 200
    StatusLink.objects.filter(ticket=t).update(expires_at=timezone.now() - timedelta(seconds=1))
    wrong = "/s/" + "A" * 22 + "/"
    malformed = "/s/%E4%B8%AD" + "x" * 80 + "/"
    answers = {}
    for name, url in {"expired": path, "wrong": wrong, "malformed": malformed}.items():
        with django_assert_num_queries(1):  # one indexed lookup by hash, whatever the token
            resp = client.get(url)
        answers[name] = resp
        assert resp.status_code == 404
        assert resp["Cache-Control"] and "no-store" in resp["Cache-Control"]
    bodies = {_not_found_body(r) for r in answers.values()}
    assert len(bodies) == 1
    headers = {
        tuple(sorted((k, v) for k, v in r.items() if k not in ("Date", "Expires")))
        for r in answers.values()
    }
    assert len(headers) == 1


def test_headers_noindex_no_store_and_no_referrer_to_other_sites(cast):
    t = report(cast)
    resp = Client().get(services.status_link_for(t))
    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]
    assert resp["X-Robots-Tag"] == "noindex, nofollow"
    assert resp["Referrer-Policy"] == "same-origin"
    html = resp.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in html
    # Scripts only from static files; no inline script or event handler.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/customers/status.js" defer>'
    ]
    assert not re.search(r"\son[a-z]+=", html)
    assert "style=" not in html


def test_page_shows_progress_promise_and_public_reply_never_staff_or_internal_text(cast):
    t = ticket_in_state(cast, State.ACCEPTED, phone="13812345678")
    wo.ticket_comment(ticket=t, by=cast.handler, body="内部备注：客户脾气差")
    other = report(cast, phone="13812345678", description="另一单")
    cast.handler.first_name, cast.handler.last_name = "师傅", "张"
    cast.handler.save()
    wo.ticket_reply(
        ticket=t,
        by=cast.handler,
        result="内部结果：更换光猫，工单系统故障导致",
        cause="network",
        resolved=True,
        public_reply="已为您更换光猫，网络已恢复正常。",
    )
    html = Client().get(services.status_link_for(t)).content.decode()
    assert t.number in html and "宽带故障" in html
    assert "138****5678" in html and "13812345678" not in html
    assert "已为您更换光猫，网络已恢复正常。" in html
    for secret in (
        "内部结果",
        "内部备注",
        "张师傅",
        cast.handler.username,
        cast.lead.username,
        cast.frontline.username,
        other.number,
        cast.network.name,
    ):
        assert secret not in html, secret
    steps = re.findall(r'<li class="(\w+)"[^>]*><span class="dot"></span><b>(\w+)</b>', html)
    assert steps == [
        ("done", "受理"),
        ("done", "派单"),
        ("done", "处理"),
        ("current", "答复"),
        ("todo", "办结"),
    ]
    assert 'id="survey"' in html  # replied: the survey is offered


def test_neutral_text_when_the_reply_has_no_public_words(replied):
    html = Client().get(services.status_link_for(replied)).content.decode()
    assert "已更换光猫" not in html  # the internal result of the factory's reply
    assert "工作人员已处理完毕" in html


def test_countdown_and_suspension_reason_with_expected_resume(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    html = Client().get(services.status_link_for(t)).content.decode()
    assert re.search(r'id="countdown" class="ok" data-due="[^"]+"', html)
    assert re.search(r"剩余 \d+天\d+小时", html)  # 48 h promise, three minutes in
    now = timezone.now()
    wo.ticket_suspend(
        ticket=t, by=cast.lead, reason="appointment", until=now + timedelta(hours=5), note="内部"
    )
    html = Client().get(services.status_link_for(t)).content.decode()
    assert "客户预约上门时间" in html  # the customer-side reason, not the internal note
    until = timezone.localtime(t.suspended_until).strftime("%Y-%m-%d %H:%M")
    assert until in html and "承诺时限暂停计时" in html


def test_english_switch(cast):
    t = report(cast)
    client = Client()
    path = services.status_link_for(t)
    resp = client.post("/i18n/setlang/", {"language": "en", "next": path})
    assert resp.status_code == 302 and resp["Location"] == path
    html = client.get(path).content.decode()
    assert "Order status" in html and "Received" in html and "Contact number" in html


def test_requests_are_limited_per_address(cast, settings):
    settings.STATUS_PAGE_RATE_PER_MINUTE = 3
    path = services.status_link_for(report(cast))
    a, b = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    assert [a.get(path).status_code for _ in range(3)] == [200, 200, 200]
    limited = a.get(path)
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert "no-store" in limited["Cache-Control"]
    assert a.get("/s/" + "B" * 22 + "/").status_code == 429  # guessing counts too
    assert b.get(path).status_code == 200  # another address is not affected


def test_behind_proxies_the_forwarded_address_counts(cast, settings):
    settings.STATUS_PAGE_RATE_PER_MINUTE = 1
    settings.STATUS_PAGE_PROXY_HOPS = 1
    path = services.status_link_for(report(cast))
    c = Client(REMOTE_ADDR="10.9.9.9")
    assert c.get(path, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert c.get(path, HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 200
    assert c.get(path, HTTP_X_FORWARDED_FOR="6.6.6.6, 1.1.1.1").status_code == 429


def test_token_derivation_is_keyed():
    assert tokens.derive(1, "ab" * 16) != tokens.derive(1, "ab" * 16, secret="other")
    assert tokens.derive(1, "ab" * 16) != tokens.derive(2, "ab" * 16)
