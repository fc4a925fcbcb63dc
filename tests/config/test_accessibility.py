# ruff: noqa: F811 - `browser` is the shared Playwright fixture, imported and then requested
"""Accessibility of every surface in a real browser: axe-core (`tests.a11y`) finds no serious
or critical problem on any page of the phone pages (frontline), the back office (admin login,
index, dashboard, order list, order page, a reference-data page), the report pages (auditor)
and the customer's status page with its survey — each at 360×740 and 1366×768, in Chinese and
in English, signed in as the role that works there.

With WHISTLE_UPDATE_SCREENSHOTS=1 it also writes docs/screenshots/reports-auditor.png (the
report page at 1366×768 as the auditor) and docs/screenshots/status-page.png (the status page
at 360×740)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from customers import services as customer_services
from tests.a11y import assert_accessible
from tests.customers.test_browser import walk
from tests.web.test_browser import (  # noqa: F401  (the same marks: browser, Chromium)
    MOBILE_UA,
    browser,
    pytestmark,
)
from workorders.models import State

VIEWPORTS = {
    "phone": {"width": 360, "height": 740},
    "desktop": {"width": 1366, "height": 768},
}
LANGUAGES = ("zh-hans", "en")


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "a11y"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    if os.environ.get("WHISTLE_UPDATE_SCREENSHOTS") == "1":
        docs = Path(settings.BASE_DIR) / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("reports-auditor.png", "status-page.png"):
            if (folder / name).exists():
                shutil.copy(folder / name, docs / name)


def _context(browser, base: str, viewport: str, lang: str, user=None):
    """A browser at the viewport, in the language (the switch's cookie), signed in as `user`
    (a session made on the server: django-axes refuses the test client's login)."""
    kw = {}
    if viewport == "phone":
        kw = {"has_touch": True, "is_mobile": True, "user_agent": MOBILE_UA}
    ctx = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="en-US" if lang == "en" else "zh-CN",
        timezone_id="Asia/Shanghai",
        extra_http_headers={"Accept-Language": "en" if lang == "en" else "zh-CN"},
        **kw,
    )
    cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": base}]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookies.append(
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base,
            }
        )
    ctx.add_cookies(cookies)
    return ctx


class Walk:
    """Visits pages and gathers every page's axe failure, so one run lists them all."""

    def __init__(self, page, label: str):
        self.page, self.label, self.failures = page, label, []

    def visit(self, url: str, name: str, *, expect_status: int = 200):
        resp = self.page.goto(url)
        assert resp is not None and resp.status == expect_status, (name, url, resp and resp.status)
        self.check(name)

    def check(self, name: str):
        assert self.page.locator("html").get_attribute("lang"), name
        try:
            assert_accessible(self.page, where=f"{name} ({self.label})")
        except AssertionError as e:
            self.failures.append(str(e))

    def done(self):
        assert not self.failures, "\n\n".join(self.failures)


def each_view(browser, base, user=None):
    for viewport in VIEWPORTS:
        for lang in LANGUAGES:
            ctx = _context(browser, base, viewport, lang, user)
            yield viewport, lang, Walk(ctx.new_page(), f"{viewport}, {lang}")
            ctx.close()


def test_phone_pages_for_the_frontline(browser, live_server, cast):
    base = live_server.url
    accepted = walk(cast, until=State.ACCEPTED)
    replied = walk(cast, until=State.REPLIED)  # the frontline's verdict form is on its page
    failures = []
    for _viewport, _lang, w in each_view(browser, base):
        w.visit(base + reverse("web:login"), "phone login")
        failures += w.failures
    for _viewport, _lang, w in each_view(browser, base, cast.frontline):
        w.visit(base + reverse("web:home"), "phone home")
        w.visit(base + reverse("web:report"), "phone report form")
        w.page.click("#submit")  # sent empty: the form with its error messages
        w.check("phone report form with errors")
        w.visit(base + reverse("web:my_orders"), "phone my orders")
        w.visit(base + reverse("web:order", args=[accepted.number]), "phone order page")
        w.visit(base + reverse("web:order", args=[replied.number]), "phone order page, replied")
        w.visit(base + reverse("web:notifications"), "phone notifications")
        failures += w.failures
    assert not failures, "\n\n".join(failures)


def test_back_office(browser, live_server, cast, django_user_model):
    base = live_server.url
    t = walk(cast, until=State.ACCEPTED)
    admin = django_user_model.objects.create_superuser("t_admin", "a@example.com", "x-pass-1234")
    failures = []
    for _viewport, _lang, w in each_view(browser, base):
        w.visit(base + "/admin/login/", "admin login")
        assert w.page.locator("h1").count() == 1
        failures += w.failures
    for _viewport, _lang, w in each_view(browser, base, cast.lead):
        w.visit(base + "/admin/", "admin index")
        w.visit(base + "/admin/workorders/ticket/dashboard/", "department dashboard")
        w.visit(base + "/admin/workorders/ticket/", "order list")
        w.visit(base + f"/admin/workorders/ticket/{t.pk}/change/", "admin order page")
        failures += w.failures
    for _viewport, _lang, w in each_view(browser, base, admin):
        w.visit(base + "/admin/accounts/department/", "departments (reference data)")
        w.visit(
            base + f"/admin/accounts/department/{cast.network.pk}/change/",
            "department form (reference data)",
        )
        failures += w.failures
    assert not failures, "\n\n".join(failures)


def test_report_pages_for_the_auditor(browser, live_server, cast, shots):
    from tests.reports.conftest import build_world

    base = live_server.url
    world = build_world(cast)
    week = "period=custom&start=2026-11-02&end=2026-11-08"
    failures = []
    for viewport, lang, w in each_view(browser, base, cast.auditor):
        w.visit(base + "/reports/", "report page (this month)")
        w.visit(base + f"/reports/?{week}&trend=day", "report page (a week)")
        if (viewport, lang) == ("desktop", "zh-hans"):
            w.page.screenshot(path=str(shots / "reports-auditor.png"), full_page=True)
        w.visit(base + f"/reports/?{week}&group_by=category", "report page grouped")
        w.visit(base + f"/reports/orders/?{week}&count=received", "drill-down list")
        w.visit(base + "/reports/orders/?backlog=1", "backlog list")
        w.visit(base + "/reports/faults/", "mass-fault report")
        w.visit(
            base + "/reports/?period=custom&start=x", "report page, bad input", expect_status=400
        )
        failures += w.failures
    assert world["o1"].number
    assert not failures, "\n\n".join(failures)


def test_status_page_and_survey(browser, live_server, cast, shots):
    from django.core.cache import cache

    base = live_server.url
    failures = []
    for viewport, lang, w in each_view(browser, base):
        cache.clear()  # the status page's per-address limit
        accepted = walk(cast, until=State.ACCEPTED)
        replied = walk(cast, until=State.REPLIED)
        w.visit(base + customer_services.status_link_for(accepted), "status page")
        if (viewport, lang) == ("phone", "zh-hans"):
            w.page.screenshot(path=str(shots / "status-page.png"), full_page=True)
        w.page.click("#note button[type=submit]")  # empty: the error message
        w.check("status page, note with an error")
        w.visit(base + customer_services.status_link_for(replied), "status page with the survey")
        w.page.click("#survey button[type=submit]")  # unanswered: the errors
        w.check("survey with errors")
        w.page.locator("#survey input[name=resolved]").first.check()
        w.page.locator("#survey input[name=satisfaction]").first.check()
        w.page.click("#survey button[type=submit]")
        w.page.wait_for_load_state()
        w.check("status page after the survey")
        w.visit(base + "/s/not-a-token/", "status page, unknown link", expect_status=404)
        failures += w.failures
    assert not failures, "\n\n".join(failures)
