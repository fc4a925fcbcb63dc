"""The frontline's live and offline-tolerant phone pages in a real browser (Chromium at
360×740): a report kept while offline and sent once when the network is back, the 待我确认
list, countdowns and lists that update without reload."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.a11y import assert_accessible
from tests.factories import report, ticket_in_state
from tests.web.test_browser import CHROMIUM, assert_fits_phone, log_in, phone_context
from workorders.models import Attachment, State, Ticket

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found"),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def browser():
    """As tests/web/test_browser.py's, with the service worker's own requests visible to
    Playwright: `context.set_offline` does not reach a service worker's fetches, so the tests
    cut those off with a route as well."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    saved = {k: os.environ.get(k) for k in ("DJANGO_ALLOW_ASYNC_UNSAFE", SW_EVENTS)}
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    os.environ[SW_EVENTS] = "1"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield b
            b.close()
            connections.close_all()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


SW_EVENTS = "PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS"


def _cut_worker(route):
    if route.request.service_worker is not None:
        route.abort("internetdisconnected")
    else:
        route.continue_()


def go_offline(ctx):
    ctx.set_offline(True)
    ctx.route("**/*", _cut_worker)


def go_online(ctx):
    ctx.unroute("**/*", _cut_worker)
    ctx.set_offline(False)


def wait_js(page, expression: str, *, timeout: float = 15, arg=None):
    """Poll `expression` (a function) until truthy; page.wait_for_function would evaluate it
    in a way the pages' Content-Security-Policy (no eval) refuses."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(200)


def small_jpeg() -> bytes:
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 20)).save(buf, format="JPEG")
    return buf.getvalue()


def test_report_made_offline_is_kept_and_sent_once_when_the_network_is_back(
    browser, live_server, cast
):
    ctx = phone_context(browser, service_workers="allow")
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    # The worker has installed, kept the report page and controls this page.
    wait_js(page, "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")

    page.click(f"label:has(input[name=category][value='{cast.category.pk}'])")
    page.fill("#id_customer_phone", "13912345678")
    page.fill("#id_customer_name", "孙先生")
    page.fill("#id_description", "地下室没有信号，客户多次投诉")
    meter = {"name": "basement.jpg", "mimeType": "image/jpeg", "buffer": small_jpeg()}
    page.set_input_files("#id_photos", files=[meter])

    go_offline(ctx)
    submitted = timezone.now()
    page.click("#submit")
    page.wait_for_selector("#outbox:not([hidden])")
    assert "已保存，联网后自动提交" in page.inner_text("#outbox")
    assert Ticket.objects.count() == 0
    assert_accessible(page, where="report form, saved offline")
    page.screenshot(path=SCREENSHOTS / "phone-report-saved-offline.png")

    # Reloaded without network: the service worker serves the kept page, which still knows.
    response = page.reload()
    assert response is not None and response.from_service_worker
    page.wait_for_selector("#outbox:not([hidden])")
    assert "已保存，联网后自动提交" in page.inner_text("#outbox")
    time.sleep(1)
    assert Ticket.objects.count() == 0

    go_online(ctx)
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"), timeout=20000)
    ticket = Ticket.objects.get()
    assert ticket.customer_name == "孙先生"
    assert abs((ticket.found_at - submitted).total_seconds()) < 5
    assert ticket.reported_at > ticket.found_at
    assert list(Attachment.objects.values_list("original_name", flat=True)) == ["basement.jpg"]
    assert page.inner_text("#found-at") == timezone.localtime(ticket.found_at).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert_accessible(page, where="order page with its found-at time")

    # Back on the report page, online: nothing is left to send, nothing is sent again.
    page.goto(live_server.url + reverse("web:report"))
    page.wait_for_timeout(1500)
    assert page.is_hidden("#outbox")
    assert Ticket.objects.count() == 1
    ctx.close()


def test_frontline_confirms_a_replied_order_from_the_to_confirm_list(browser, live_server, cast):
    t = ticket_in_state(cast, State.REPLIED)
    report(cast, description="小区宽带晚高峰卡顿")
    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    assert_fits_phone(page)
    assert_accessible(page, where="my orders (frontline's main page)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "phone-frontline.png")

    page.tap("#tab-confirm")
    page.wait_for_url(re.compile(r"status=confirm"))
    item = page.locator(f"#confirm-{t.number}")
    assert "已更换光猫，恢复正常" in item.inner_text()
    assert_fits_phone(page)
    assert_accessible(page, where="待我确认 list")
    item.locator("label:has-text('满意')").first.tap()
    # Another reply arrives while the reporter is choosing: the list does not refresh under
    # their hands (the choice stays), it shows up after the verdict.
    later = ticket_in_state(cast, State.REPLIED, description="营业厅宽带办理后无法上网")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_timeout(1500)
    assert later.number not in page.inner_text("#orders")
    assert item.locator("input[value=satisfied]").is_checked()
    item.locator("button:has-text('确认已解决')").tap()
    page.wait_for_selector("text=已记录客户意见，工单已办结")
    assert "status=confirm" in page.url
    assert t.number not in page.inner_text("#orders")
    assert later.number in page.inner_text("#orders")
    t.refresh_from_db()
    assert t.state == State.CLOSED and t.visit_satisfaction == "satisfied"
    ctx.close()


def test_countdown_ticks_and_the_list_refreshes_without_reload(browser, live_server, cast):
    # The promise (48 h) falls due 6 seconds after the page opens.
    t = report(cast, now=timezone.now() - timedelta(hours=48) + timedelta(seconds=6))
    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.evaluate("window.__samePage = true")
    countdown = page.locator(f"a.order:has-text('{t.number}') [data-countdown]")
    before = countdown.inner_text()
    assert before.startswith("剩余 ")
    wait_js(page, "el => el.textContent.startsWith('已超时')", arg=countdown.element_handle())
    assert "late" in countdown.get_attribute("class")

    # A new order appears in the list when it refreshes (here: on coming back to the tab).
    newer = report(cast, description="营业厅排队过长")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_selector(f"text={newer.number}", timeout=10000)
    assert page.evaluate("window.__samePage") is True  # no reload
    assert_accessible(page, where="my orders after a live refresh")
    ctx.close()


def test_a_submit_whose_answer_is_lost_is_kept_and_resent_without_a_second_order(
    browser, live_server, cast
):
    """The phone thinks it is online, the report reaches the server, the answer never comes
    back: the service worker keeps the report, the page sends it again, and the form's one-time
    key gives back the first order instead of a second one."""
    ctx = phone_context(browser, service_workers="allow")
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    wait_js(page, "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    page.click(f"label:has(input[name=category][value='{cast.category.pk}'])")
    page.fill("#id_customer_phone", "13912345670")
    page.fill("#id_description", "营业厅网络中断")

    lost = []

    def lose_the_answer(route):
        if route.request.method == "POST" and route.request.service_worker and not lost:
            lost.append(route.fetch(max_redirects=0))  # the server has it …
            route.abort("connectionreset")  # … the phone never hears back
        else:
            route.continue_()

    ctx.route("**/report/", lose_the_answer)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"), timeout=20000)
    assert len(lost) == 1 and lost[0].status == 302
    ticket = Ticket.objects.get()
    assert page.url.endswith(reverse("web:order", args=[ticket.number]))
    ctx.close()


def test_a_kept_report_too_old_to_send_comes_back_as_the_form_with_the_reason(
    browser, live_server, cast
):
    ctx = phone_context(browser, service_workers="allow")
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    wait_js(page, "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    page.click(f"label:has(input[name=category][value='{cast.category.pk}'])")
    page.fill("#id_customer_phone", "13912345671")
    page.fill("#id_customer_name", "周女士")
    page.fill("#id_description", "光猫红灯")
    go_offline(ctx)
    page.click("#submit")
    page.wait_for_selector("#outbox:not([hidden])")
    # Three days and more pass before the phone is online again.
    page.evaluate(
        """() => WhistleOutbox.all().then(list => Promise.all(list.map(e => {
            e.at -= 73 * 3600 * 1000;
            return WhistleOutbox.remove(e.key).then(() => {
              const fd = WhistleOutbox.formData(e, "x");
              fd.delete("found_at"); fd.delete("csrfmiddlewaretoken");
              return WhistleOutbox.save(fd, e.at);
            });
        })))"""
    )
    go_online(ctx)
    page.wait_for_selector("text=发现时间不能早于72小时前。", timeout=20000)
    assert Ticket.objects.count() == 0
    assert page.input_value("#id_customer_name") == "周女士"  # nothing entered is lost
    assert page.evaluate("() => WhistleOutbox.all().then(l => l.length)") == 0
    page.click("#submit")
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"), timeout=20000)
    ticket = Ticket.objects.get()
    assert ticket.found_at is None and ticket.customer_name == "周女士"
    ctx.close()
