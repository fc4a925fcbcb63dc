"""The phone front in a real browser: Debian's Chromium through Playwright, in a 360×740 touch
viewport with a mobile user agent. Screenshots of each screen go to the test run's output
folder (`artifacts_dir`/web)."""

from __future__ import annotations

import json
import os
import re
from io import BytesIO

import pytest
from django.urls import reverse

from tests.conftest import chromium_path
from tests.factories import PASSWORD
from workorders.models import Attachment, Ticket

CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium found (install Debian's chromium package or set CHROMIUM=/path)",
    ),
]

MOBILE_UA = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
FIRST_LOAD_LIMIT = 150 * 1024
REPEAT_LOAD_LIMIT = 50 * 1024


@pytest.fixture
def browser():
    """One Chromium per test. Playwright's sync API keeps an event loop current while it is
    open, and Django then hands this thread a different database connection (asgiref
    locals): opened per test, after the database is set up and closed before it is flushed,
    the test's data and the rollback emulation stay on the right connection."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the test's own ORM calls are sync
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield b
            b.close()
            connections.close_all()  # the loop-context connections, before the flush
    finally:
        if old is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def phone_context(browser, **kw):
    return browser.new_context(
        viewport={"width": 360, "height": 740},
        has_touch=True,
        is_mobile=True,
        user_agent=MOBILE_UA,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **kw,
    )


def big_jpeg(path, size=(2400, 1800)) -> None:
    """A photo as a phone camera makes it: large and noisy (so the browser shrinks it)."""
    from PIL import Image

    img = Image.effect_noise(size, 60).convert("RGB")
    img.save(path, format="JPEG", quality=92)


def log_in(page, base, username="t_front"):
    page.goto(base + reverse("web:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/$"))


def assert_fits_phone(page):
    """No sideways scrolling at 360 px, and every control a finger can hit is ≥ 44 px tall.
    Measured once the page has loaded: a page just reached through a form's submit can show
    its text before its stylesheet applies, and unstyled buttons are ~21 px tall."""
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    small = page.evaluate(
        """() => [...document.querySelectorAll(
            'button, nav a, .tabs a, .btn, select, textarea, input[type=text], input[type=tel],'
            + 'input[type=password], input[type=file], .cats span, .seg label, label.check')]
          .filter(e => e.offsetParent !== null)
          .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height])
          .filter(([, h]) => h < 44)"""
    )
    assert small == []


def test_frontline_reports_with_a_photo_sees_countdown_opens_and_chases(
    browser, live_server, cast, shots, tmp_path
):
    big_jpeg(tmp_path / "door.jpg")
    ctx = phone_context(browser)
    page = ctx.new_page()
    page.goto(live_server.url + reverse("web:login"))
    assert_fits_phone(page)
    page.screenshot(path=shots / "01-login.png", full_page=True)
    log_in(page, live_server.url)

    page.click("nav >> text=我要吹哨")
    page.wait_for_url(re.compile(r"/report/$"))
    page.tap(f"label:has(input[name=category][value='{cast.urgent_category.pk}'])")
    assert "紧急" in page.inner_text("#urgency-hint")
    page.fill("#id_customer_phone", "13912345678")
    page.fill("#id_customer_name", "王先生")
    page.fill("#id_customer_address", "西湖区文三路1号")
    page.fill("#id_description", "已缴费两小时仍未开机，客户着急")
    page.set_input_files("#id_photos", str(tmp_path / "door.jpg"))
    page.wait_for_selector("#id_photos[data-ready]", state="attached")
    assert "door.jpg" in page.inner_text("#photo-names")
    assert_fits_phone(page)
    page.screenshot(path=shots / "02-report-filled.png", full_page=True)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"))

    ticket = Ticket.objects.get()
    assert ticket.urgency == "urgent"
    photo = Attachment.objects.get(ticket=ticket)
    original = (tmp_path / "door.jpg").stat().st_size
    assert photo.size < original  # shrunk in the browser before upload
    assert "吹哨成功" in page.inner_text("main")
    assert page.locator("img[alt='door.jpg']").count() == 1
    assert_fits_phone(page)
    page.screenshot(path=shots / "03-order.png", full_page=True)

    page.click("nav >> text=我的工单")
    page.wait_for_url(re.compile(r"/orders/$"))
    row = page.locator(f"a.order:has-text('{ticket.number}')")
    assert re.search(r"剩余 \d+小时\d+分钟", row.inner_text())
    assert_fits_phone(page)
    page.screenshot(path=shots / "04-my-orders.png", full_page=True)

    row.tap()
    page.wait_for_url(re.compile(rf"/orders/{ticket.number}/$"))
    page.fill("#id_note", "客户很急")
    page.click("#chase button[type=submit]")
    page.wait_for_selector("text=已催办")
    assert ticket.chases.count() == 1
    page.screenshot(path=shots / "05-chased.png", full_page=True)
    page.click("#chase button[type=submit]")
    page.wait_for_selector("text=分钟后再催")
    assert ticket.chases.count() == 1
    page.screenshot(path=shots / "06-chase-refused.png", full_page=True)
    ctx.close()


def test_double_tap_on_submit_makes_one_order_even_without_javascript(
    browser, live_server, cast, shots
):
    from playwright.sync_api import expect

    ctx = phone_context(browser, java_script_enabled=False)
    page = ctx.new_page()
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    page.click(f"label:has(input[name=category][value='{cast.category.pk}'])")
    page.fill("#id_customer_phone", "0571-87654321")
    page.fill("#id_description", "宽带每晚掉线")
    posts.clear()
    page.dblclick("#submit")
    # The second tap aborts the first navigation, so wait for where the page ends up (polling
    # its URL) rather than for one navigation to finish.
    expect(page).to_have_url(re.compile(r"/orders/GD\d{14}/$"), timeout=15000)
    page.wait_for_load_state("networkidle")
    assert len(posts) >= 1
    assert Ticket.objects.count() == 1
    page.screenshot(path=shots / "07-double-tap-one-order.png", full_page=True)
    ctx.close()


def test_validation_error_keeps_every_field_and_the_photo(browser, live_server, cast, shots):
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buf, format="JPEG")
    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    page.click(f"label:has(input[name=category][value='{cast.category.pk}'])")
    page.fill("#id_customer_phone", "12345")
    page.fill("#id_customer_name", "李女士")
    page.fill("#id_customer_region", "滨江区")
    page.select_option("#id_star_level", "4")
    page.check("#id_is_elderly")
    page.fill("#id_description", "宽带每晚掉线")
    meter = {"name": "meter.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()}
    page.set_input_files("#id_photos", files=[meter])
    page.click("#submit")
    page.wait_for_selector(".err")

    assert "请输入正确的手机号" in page.inner_text("main")
    assert page.input_value("#id_customer_phone") == "12345"
    assert page.input_value("#id_customer_name") == "李女士"
    assert page.input_value("#id_customer_region") == "滨江区"
    assert page.input_value("#id_star_level") == "4"
    assert page.is_checked("#id_is_elderly")
    assert page.input_value("#id_description") == "宽带每晚掉线"
    assert page.is_checked(f"input[name=category][value='{cast.category.pk}']")
    assert "meter.jpg" in page.inner_text("#kept-photos")
    assert_fits_phone(page)
    page.screenshot(path=shots / "08-validation-error.png", full_page=True)

    page.fill("#id_customer_phone", "13912345678")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"))
    ticket = Ticket.objects.get()
    assert list(ticket.attachments.values_list("original_name", flat=True)) == ["meter.jpg"]
    ctx.close()


def test_notification_badge_and_tap_opens_the_order(browser, live_server, cast, shots):
    from django.utils import timezone

    from notifications.models import Notification
    from tests.factories import report

    ticket = report(cast)
    Notification.objects.create(
        recipient=cast.frontline,
        ticket=ticket,
        kind="replied",
        title="工单已回复，请回访客户",
        key="browser-note-1",
        created_at=timezone.now(),
    )
    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    assert page.inner_text("#nav-notes .badge") == "1"
    page.tap("#nav-notes")
    page.wait_for_url(re.compile(r"/notifications/$"))
    assert_fits_phone(page)
    page.screenshot(path=shots / "11-notifications.png", full_page=True)
    page.tap("text=工单已回复，请回访客户")
    page.wait_for_url(re.compile(rf"/orders/{ticket.number}/$"))
    assert page.locator("#nav-notes .badge").count() == 0
    ctx.close()


def test_switch_to_english_and_back(browser, live_server, cast, shots):
    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.click("footer button[name=language][value=en]")
    page.wait_for_selector("text=My orders")
    page.goto(live_server.url + reverse("web:report"))  # remembered across pages
    assert "Submit report" in page.inner_text("#submit")
    assert_fits_phone(page)
    page.screenshot(path=shots / "09-report-english.png", full_page=True)
    cookie = next(c for c in ctx.cookies() if c["name"] == "django_language")
    assert cookie["value"] == "en" and cookie["expires"] > 0  # outlives the browser session
    page.click("footer button[name=language][value=zh-hans]")
    page.wait_for_selector("text=提交吹哨")
    page.screenshot(path=shots / "10-report-chinese-again.png", full_page=True)
    ctx.close()


def _measure(page, cdp, url) -> int:
    """Bytes transferred to load `url` (images aside), counted from the network events."""
    sizes: dict[str, float] = {}
    types: dict[str, str] = {}

    def on_response(e):
        types[e["requestId"]] = e.get("type", "")

    def on_finished(e):
        sizes[e["requestId"]] = e["encodedDataLength"]

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", on_finished)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    cdp.remove_listener("Network.responseReceived", on_response)
    cdp.remove_listener("Network.loadingFinished", on_finished)
    return int(sum(v for k, v in sizes.items() if types.get(k) != "Image"))


def test_each_page_transfers_under_150_kb_first_and_50_kb_after(
    browser, live_server, cast, artifacts_dir
):
    from tests.factories import report

    ticket = report(cast)
    pages = {
        "login": reverse("web:login"),
        "report": reverse("web:report"),
        "my_orders": reverse("web:my_orders"),
        "order": reverse("web:order", args=[ticket.number]),
        "notifications": reverse("web:notifications"),
    }
    results = {}
    for name, path in pages.items():
        ctx = phone_context(browser)
        page = ctx.new_page()
        if name != "login":
            log_in(page, live_server.url)
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.clearBrowserCache")
        first = _measure(page, cdp, live_server.url + path)
        repeat = _measure(page, cdp, live_server.url + path)
        results[name] = {"first": first, "repeat": repeat}
        ctx.close()
    (artifacts_dir / "web").mkdir(parents=True, exist_ok=True)
    (artifacts_dir / "web" / "page-sizes.json").write_text(json.dumps(results, indent=2))
    for name, r in results.items():
        assert 0 < r["first"] <= FIRST_LOAD_LIMIT, (name, r)
        assert r["repeat"] <= REPEAT_LOAD_LIMIT, (name, r)
