"""Every page family loads in Chromium under the Content-Security-Policy with zero violations:
the phone pages, the admin (login, order list, order page, dashboard), the report page and both
API docs viewers. A violation is caught twice over: the page's `securitypolicyviolation` events
(recorded by a script Playwright injects before the page's own) and Chromium's console errors.
Each response must carry the policy, so a page without it cannot pass by saying nothing."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import PASSWORD, ticket_in_state
from tests.web import test_browser as web_browser
from workorders.models import State

pytestmark = web_browser.pytestmark

browser = web_browser.browser  # the phone tests' Chromium fixture

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} `
    + `at ${e.sourceFile}:${e.lineNumber} (${e.sample})`);
});
"""


class CspWatch:
    """Console CSP errors and violation events of one page, checked after each visit."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._on_console)

    def _on_console(self, msg) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def visit(self, url: str, *, ready: str | None = None) -> None:
        response = self.page.goto(url)
        assert response is not None and response.ok, (url, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, (url, policy)
        if ready:
            self.page.wait_for_selector(ready, timeout=20_000)
        self.page.wait_for_load_state("networkidle")
        self.assert_clean(url)

    def assert_clean(self, where: str) -> None:
        events = self.page.evaluate("window.__csp || []")
        assert events == [] and self.console == [], (where, events, self.console)


def test_every_page_loads_without_a_csp_violation(browser, live_server, cast):
    base = live_server.url
    mine = ticket_in_state(cast, State.REPLIED)  # reported by the frontline; verdict form shown
    dispatched = ticket_in_state(cast, State.DISPATCHED)

    # Phone pages, as the frontline engineer.
    phone = web_browser.phone_context(browser)
    watch = CspWatch(phone.new_page())
    watch.visit(base + reverse("web:login"))
    web_browser.log_in(watch.page, base)
    watch.assert_clean("/ → my orders")
    watch.visit(base + "/", ready="main")
    watch.visit(base + reverse("web:report"), ready="#report")
    watch.visit(base + reverse("web:order", args=[mine.number]), ready="#verdict")
    watch.visit(base + reverse("web:notifications"), ready="#notes")
    # A form post (the language switch) is within form-action, and the answer is clean.
    watch.page.click("footer form[action*=setlang] button")
    watch.page.wait_for_load_state("networkidle")
    watch.assert_clean("language switch")
    phone.close()

    # The admin, as the department lead.
    desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    watch = CspWatch(desk.new_page())
    watch.visit(base + "/admin/login/?next=/admin/", ready="#login-form")
    watch.page.fill("#id_username", cast.lead.username)
    watch.page.fill("#id_password", PASSWORD)
    watch.page.click("input[type=submit]")
    watch.page.wait_for_selector("#backoffice-shortcuts")
    watch.assert_clean("admin index")
    watch.visit(base + reverse("admin:workorders_ticket_changelist"), ready="#result_list")
    watch.visit(
        base + reverse("admin:workorders_ticket_change", args=[dispatched.pk]),
        ready="#bo-transitions",
    )
    watch.visit(base + reverse("admin:workorders_ticket_dashboard"), ready=".bo-cards")
    watch.visit(base + reverse("reports:index"), ready="main section")

    # The API docs: both viewers render the schema under the same policy.
    watch.visit(base + "/api/docs/", ready=".swagger-ui .info .title")
    watch.visit(base + "/api/redoc/", ready="#redoc-container .menu-content")
    desk.close()
