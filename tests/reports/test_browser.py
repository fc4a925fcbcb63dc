"""Playwright: the report page as `auditor`, screenshot into the artifacts folder."""

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import chromium_path

from .conftest import build_world


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_report_page_screenshot_as_auditor(live_server, artifacts_dir, settings_fast_hash):
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium at /usr/bin/chromium (set CHROMIUM=...)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.factories import Cast

    cast = Cast()
    world = build_world(cast)
    client = Client()
    client.force_login(cast.auditor)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900}, locale="zh-CN")
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(
                f"{live_server.url}/reports/?period=custom&start=2026-11-02&end=2026-11-15&trend=day"
            )
            assert page.locator('[data-kpi="on_time_closure"] .v').inner_text() == "71.4%"
            assert page.locator("svg.trend polyline").count() >= 1
            page.screenshot(path=str(artifacts_dir / "reports-auditor.png"), full_page=True)
            page.locator('[data-kpi="on_time_closure"] a').first.click()
            page.wait_for_load_state()
            assert world["o1"].number in page.content()
            page.screenshot(path=str(artifacts_dir / "reports-drilldown.png"), full_page=True)
        finally:
            browser.close()
    assert (artifacts_dir / "reports-auditor.png").stat().st_size > 10_000
