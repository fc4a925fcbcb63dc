"""Playwright (Debian's Chromium) at 1366×768: the supervisor's day from the bell to a 督办, each
role's main page without sideways scrolling, axe-core on the pages issue 16 changed, and the
screenshots in docs/screenshots/."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from notifications.models import Notification
from sla.engine import sla_sweep
from tests.a11y import assert_accessible
from tests.conftest import chromium_path
from tests.factories import PASSWORD, report, ticket_in_state
from workorders.models import State, Supervision

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _orders(cast):
    now = timezone.now()
    for i in range(3):
        report(cast, phone=f"1390000{i:04d}", customer_name="王小明")
    ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(hours=3))
    ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=44), star_level=5)
    ticket_in_state(cast, State.REPLIED, now=now - timedelta(hours=20))
    ticket_in_state(cast, State.CLOSED, now=now - timedelta(hours=30))
    # Long past its promise: the sweep breaches and escalates it, and tells the supervisor.
    escalated = ticket_in_state(
        cast, State.ACCEPTED, now=now - timedelta(hours=100), is_elderly=True
    )
    sla_sweep(now=now)
    return escalated


def _log_in(page, url, user, next_="/admin/"):
    page.goto(f"{url}/admin/login/?next={next_}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def _no_sideways_scroll(page, where):
    widths = page.evaluate(
        """() => {
        const box = document.querySelector('#changelist .results');
        return {page: document.documentElement.scrollWidth, view: window.innerWidth,
                box: box ? box.scrollWidth : 0, boxView: box ? box.clientWidth : 0};
    }"""
    )
    assert widths["page"] <= widths["view"], (where, widths)
    assert widths["box"] <= widths["boxView"], (where, widths)
    for column in ("department", "handler", "reported_at"):
        cell = page.locator(f"#result_list th.column-{column}")
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= DESKTOP["width"], (where, column)


def test_supervisor_from_the_bell_to_a_supervision(live_server, cast, monkeypatch):
    if chromium_path() is None:
        pytest.skip("Chromium not found at /usr/bin/chromium (set CHROMIUM=...)")
    sync_api = pytest.importorskip("playwright.sync_api")
    escalated = _orders(cast)
    unread = Notification.objects.filter(recipient=cast.supervisor, read_at=None).count()
    assert unread >= 1
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=DESKTOP, locale="zh-CN")
            _log_in(page, live_server.url, cast.supervisor, "/admin/workorders/ticket/")
            page.wait_for_selector("#result_list")
            assert page.inner_text("#bo-bell-count") == str(unread)
            _no_sideways_scroll(page, "supervisor changelist")
            assert page.locator("a.bo-preset[data-preset=breached]").is_visible()
            page.screenshot(path=str(SCREENSHOTS / "backoffice-supervisor.png"))
            assert_accessible(page, where="order changelist (supervisor)")

            page.goto(f"{live_server.url}/admin/workorders/ticket/dashboard/")
            page.wait_for_selector(".bo-cards")
            assert page.inner_text("#card-preset-breached .bo-num") == "1"
            assert_accessible(page, where="dashboard (supervisor)")

            page.click("#bo-bell")
            page.wait_for_selector("#bo-notes")
            assert_accessible(page, where="inbox")
            row = page.locator("tr.bo-note-unread", has_text=escalated.number).first
            row.locator("button.bo-open-note").click()
            page.wait_for_selector("#bo-transitions")
            assert escalated.number in page.title() or escalated.number in page.content()
            assert int(page.inner_text("#bo-bell-count")) == unread - 1
            assert_accessible(page, where="order page (supervisor)")

            page.click('a.bo-transition[data-transition="supervise"]')
            page.wait_for_selector("#bo-transition-form")
            page.fill("#bo-transition-form textarea[name=note]", "今天下班前回复客户")
            page.click("#bo-transition-form input[type=submit]")
            page.wait_for_selector(".messagelist .success")
            assert "已督办" in page.inner_text(".messagelist")
        finally:
            browser.close()
    assert Supervision.objects.filter(
        ticket=escalated, by=cast.supervisor, note="今天下班前回复客户"
    ).exists()


@pytest.mark.parametrize(
    ("role", "preset"),
    [("dispatcher", "to_dispatch"), ("lead", "to_claim")],
)
def test_each_roles_main_page_fits_1366(live_server, cast, monkeypatch, role, preset):
    if chromium_path() is None:
        pytest.skip("Chromium not found at /usr/bin/chromium (set CHROMIUM=...)")
    sync_api = pytest.importorskip("playwright.sync_api")
    _orders(cast)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=DESKTOP, locale="zh-CN")
            _log_in(page, live_server.url, cast.by_role(role), "/admin/workorders/ticket/")
            page.wait_for_selector("#result_list")
            _no_sideways_scroll(page, f"{role} changelist")
            page.screenshot(path=str(SCREENSHOTS / f"backoffice-{role}.png"))
            assert_accessible(page, where=f"order changelist ({role})")
            page.click(f"a.bo-preset[data-preset={preset}]")
            page.wait_for_selector("#result_list")
            assert page.locator("#result_list tbody tr").count() >= 1
            _no_sideways_scroll(page, f"{role} {preset}")
        finally:
            browser.close()
