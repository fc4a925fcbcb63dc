"""The report page in English in a real browser: no word broken mid-word on a 320 px phone,
and the department scorecard fits its box on a 1366 px screen (the page never scrolls
sideways; a table wider than a phone scrolls inside its own box)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import chromium_path

from .conftest import build_world

CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (set CHROMIUM=/path)"),
]

URL = "/reports/?period=custom&start=2026-11-02&end=2026-11-15&trend=day"

# Every run of letters/digits in the page's visible text whose range covers more than one
# line box is a word the browser broke in the middle.
BROKEN_WORDS_JS = r"""
() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentNode;
    if (!el || el.nodeType !== 1 || el.closest("svg, script, style, option, select")) continue;
    const re = /[A-Za-z0-9][A-Za-z0-9'’.%-]*[A-Za-z0-9%]|[A-Za-z]/g;
    let m;
    while ((m = re.exec(node.data))) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      const tops = new Set(rects.map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0] + " in <" + el.tagName.toLowerCase() + ">");
    }
  }
  return broken;
}
"""

OVERFLOW_JS = """
() => {
  const section = document.getElementById("scorecard");
  const table = section.querySelector("table");
  return {section: section.clientWidth, table: table.scrollWidth,
          sectionScroll: section.scrollWidth,
          page: document.scrollingElement.scrollWidth, viewport: window.innerWidth};
}
"""


@pytest.fixture
def auditor_page(live_server, settings_fast_hash):
    from playwright.sync_api import sync_playwright

    from tests.factories import Cast

    cast = Cast()
    build_world(cast)
    client = Client()
    client.force_login(cast.auditor)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    def open_page(browser, width, height, lang="en"):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="en-US" if lang == "en" else "zh-CN",
            extra_http_headers={"Accept-Language": lang},
        )
        context.add_cookies(
            [
                {"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url},
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": live_server.url},
            ]
        )
        page = context.new_page()
        page.goto(live_server.url + URL)
        return page

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield lambda *a, **kw: open_page(browser, *a, **kw)
        finally:
            browser.close()


def test_english_report_breaks_no_word_at_320px(auditor_page, artifacts_dir):
    page = auditor_page(320, 740)
    assert page.locator("html").get_attribute("lang") == "en"
    page.screenshot(path=str(artifacts_dir / "reports-en-320.png"), full_page=True)
    assert page.evaluate(BROKEN_WORDS_JS) == []
    sizes = page.evaluate(OVERFLOW_JS)
    assert sizes["page"] <= sizes["viewport"], sizes  # the page itself never scrolls sideways


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_scorecard_fits_at_1366px(auditor_page, artifacts_dir, lang):
    page = auditor_page(1366, 768, lang)
    sizes = page.evaluate(OVERFLOW_JS)
    page.screenshot(path=str(artifacts_dir / f"reports-{lang}-1366.png"), full_page=True)
    assert sizes["table"] <= sizes["section"], sizes
    assert sizes["page"] <= sizes["viewport"], sizes
    assert page.evaluate(BROKEN_WORDS_JS) == []
    # The trend chart's legend labels end inside the chart (none cut off at its right edge).
    cut = page.evaluate(
        """() => { const svg = document.querySelector("svg.trend");
          const w = svg.viewBox.baseVal.width;
          return [...svg.querySelectorAll("text")].filter(t => {
            const b = t.getBBox(); return b.x + b.width > w; }).map(t => t.textContent); }"""
    )
    assert cut == []
