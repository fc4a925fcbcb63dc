"""Playwright (Debian's Chromium): the lead's changelist, an order page and the dashboard,
with screenshots saved in the test output folder."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import chromium_path
from tests.factories import PASSWORD, ticket_in_state
from workorders.models import State

GREEN = "rgb(46, 125, 50)"
AMBER = "rgb(245, 166, 35)"
RED = "rgb(198, 40, 40)"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_lead_changelist_order_page_and_dashboard(live_server, artifacts_dir, cast, monkeypatch):
    if chromium_path() is None:
        pytest.skip("Chromium not found at /usr/bin/chromium (set CHROMIUM=...)")
    sync_api = pytest.importorskip("playwright.sync_api")
    now = timezone.now()
    ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=1), is_elderly=True)
    ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=44), star_level=5)
    ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=51))
    unclaimed = ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(minutes=20))
    # Playwright's sync API runs an event loop in this thread; the ORM is done by now.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page.goto(f"{live_server.url}/admin/login/?next=/admin/workorders/ticket/")
            page.fill("#id_username", cast.lead.username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")

            def colour(selector: str) -> str:
                return page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor")

            assert colour("#result_list .sla-badge.sla-on_track") == GREEN
            assert colour("#result_list .sla-badge.sla-at_risk") == AMBER
            assert colour("#result_list .sla-badge.sla-breached") == RED
            assert "已超时" in page.inner_text("#result_list .sla-badge.sla-breached")
            assert page.locator("#result_list tbody tr").count() == 4
            assert page.is_visible("text=待我审批")
            page.screenshot(
                path=str(artifacts_dir / "backoffice-lead-changelist.png"), full_page=True
            )

            page.click(f"text={unclaimed.number}")
            page.wait_for_selector("#bo-transitions")
            claim = page.locator('a.bo-transition[data-transition="claim"]')
            assert claim.is_visible()
            assert page.locator('a.bo-transition[data-transition="request_return"]').is_visible()
            # claim, return, assign, correct the category
            assert page.locator("a.bo-transition").count() == 4
            page.screenshot(path=str(artifacts_dir / "backoffice-lead-order.png"), full_page=True)
            assert page.is_visible("#bo-timeline")

            claim.click()
            page.wait_for_selector("#bo-transition-form")
            page.click("#bo-transition-form input[type=submit]")
            page.wait_for_selector(".messagelist .success")
            assert unclaimed.number in page.inner_text(".messagelist")
            assert page.locator('a.bo-transition[data-transition="reply"]').is_visible()

            page.goto(f"{live_server.url}/admin/workorders/ticket/dashboard/")
            page.wait_for_selector(".bo-cards")
            assert page.inner_text("#card-breached .bo-num") == "1"
            assert page.inner_text("#card-at-risk .bo-num") == "1"
            page.screenshot(
                path=str(artifacts_dir / "backoffice-lead-dashboard.png"), full_page=True
            )

            tablet = browser.new_page(viewport={"width": 820, "height": 1180})
            tablet.context.add_cookies(page.context.cookies())
            tablet.goto(f"{live_server.url}/admin/workorders/ticket/")
            tablet.wait_for_selector("#result_list")
            tablet.screenshot(path=str(artifacts_dir / "backoffice-lead-changelist-tablet.png"))
        finally:
            browser.close()
