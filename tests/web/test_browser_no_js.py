"""The report form without JavaScript offers nothing that needs it: the location button (which
only a script can fill) stays hidden, as do other `hidden` controls the page's script reveals;
with JavaScript on (and a geolocation API) the button shows."""

from __future__ import annotations

from django.urls import reverse

from tests.web import test_browser as web_browser

pytestmark = web_browser.pytestmark

browser = web_browser.browser


def test_location_button_shows_only_when_a_script_can_use_it(browser, live_server, cast):
    url = live_server.url + reverse("web:report")
    for scripts, visible in ((False, False), (True, True)):
        context = web_browser.phone_context(browser, java_script_enabled=scripts)
        try:
            page = context.new_page()
            web_browser.log_in(page, live_server.url)
            page.goto(url)
            assert page.is_visible("#locate") is visible, f"scripts={scripts}"
        finally:
            context.close()
