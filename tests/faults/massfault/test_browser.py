"""Playwright (Debian's Chromium): the dispatcher confirms a suspected fault on the fault
board; a field engineer's report form shows the fault hint before submit and the order joins
the fault. Screenshots go to the test output folder (`artifacts_dir`/faults)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault, FaultLink, FaultState, LinkHow
from faults.services import fault_confirm
from tests.factories import PASSWORD
from tests.web.test_browser import assert_fits_phone, log_in, phone_context
from workorders.models import Ticket

from .conftest import orders_near

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "faults"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_dispatcher_confirms_a_suspected_fault_on_the_board(browser, live_server, cast, net, shots):
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now - timedelta(hours=1), region="西湖区")
    fault_detect(now=now - timedelta(hours=1))
    fault_confirm(fault=Fault.objects.get(), by=cast.dispatcher, now=now - timedelta(hours=1))
    orders_near(cast, net.broadband, n=6, now=now, spread=150, north=3000, region="滨江区")
    fault_detect(now=now)
    suspected = Fault.objects.get(state=FaultState.SUSPECTED)

    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/faults/fault/")
    page.fill("#id_username", cast.dispatcher.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#fault-board")
    rows = page.locator("#fault-board tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-number") == suspected.number  # suspected first
    assert "疑似" in rows.nth(0).inner_text() and "已确认" in rows.nth(1).inner_text()
    page.screenshot(path=str(shots / "01-board.png"), full_page=True)

    rows.nth(0).locator('a.fault-do[data-action="confirm"]').click()
    page.wait_for_selector("#fault-action-form")
    eta = timezone.localtime(now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#id_eta", eta)
    page.fill("#id_message", "滨江区光缆中断，正在抢修")
    page.click("#fault-action-form input[type=submit]")
    page.wait_for_selector("#fault-state")
    assert "已确认" in page.inner_text("#fault-state")
    assert "已确认" in page.inner_text("ul.messagelist")
    assert page.locator("svg.fault-plot circle.fault-order").count() == 6
    page.screenshot(path=str(shots / "02-fault-page.png"), full_page=True)
    suspected.refresh_from_db()
    assert suspected.state == FaultState.CONFIRMED and suspected.eta is not None
    assert all(
        link.ticket.department == cast.network for link in suspected.links.select_related("ticket")
    )
    page.close()


def test_phone_form_shows_the_fault_hint_and_links_the_report(
    browser, live_server, cast, net, shots
):
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now, region="西湖区")
    fault_detect(now=now)
    eta = timezone.localtime(now + timedelta(hours=2)).replace(second=0, microsecond=0)
    fault = fault_confirm(fault=Fault.objects.get(), by=cast.dispatcher, eta=eta, now=now).fault
    expected = f"该区域已有群障 {fault.number}，预计 {eta:%H:%M} 恢复。"

    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    assert page.locator("#fault-box").is_hidden()
    page.select_option("#id_category_other", str(net.coverage.pk))
    page.fill("#id_customer_region", "西湖区")
    page.locator("#id_customer_region").blur()
    page.wait_for_selector("#fault-box", state="visible")
    assert page.inner_text("#fault-text") == expected
    assert page.is_checked("#id_fault_related")
    page.fill("#id_customer_phone", "13912345678")
    page.fill("#id_description", "手机没有信号，邻居也一样")
    assert_fits_phone(page)
    page.screenshot(path=str(shots / "03-phone-hint.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"))
    assert expected in page.inner_text("main")
    link = FaultLink.objects.get(ticket=Ticket.objects.latest("id"))
    assert (link.fault_id, link.how, link.linked_by) == (
        fault.pk,
        LinkHow.SUGGESTED,
        cast.frontline,
    )
    page.screenshot(path=str(shots / "04-phone-linked.png"), full_page=True)

    # Another report in another district: no hint. Back in the district, untick: not linked.
    page.goto(live_server.url + reverse("web:report"))
    page.select_option("#id_category_other", str(net.coverage.pk))
    page.fill("#id_customer_region", "萧山区")
    page.locator("#id_customer_region").blur()
    page.wait_for_timeout(500)
    assert page.locator("#fault-box").is_hidden()
    page.fill("#id_customer_region", "西湖区")
    page.locator("#id_customer_region").blur()
    page.wait_for_selector("#fault-box", state="visible")
    page.uncheck("#id_fault_related")
    page.fill("#id_customer_phone", "13912345679")
    page.fill("#id_description", "手机信号差")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/orders/GD\d{14}/$"))
    unrelated = Ticket.objects.latest("id")
    assert not FaultLink.objects.filter(ticket=unrelated, unlinked_at__isnull=True).exists()
    assert "本单已关联该群障" not in page.inner_text("main")
    ctx.close()


def test_a_late_answer_to_an_older_question_does_not_hide_the_fault_hint(
    browser, live_server, cast, net
):
    """Choosing the category asks once (no area yet: no fault), typing the area asks again (a
    fault). When the first answer arrives last, the hint must stay: it answers an old question.
    The first request is held in the browser until the second has been answered."""
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now, region="西湖区")
    fault_detect(now=now)
    fault_confirm(fault=Fault.objects.get(), by=cast.dispatcher, now=now)

    ctx = phone_context(browser)
    page = ctx.new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("web:report"))
    held = []

    def hold_the_question_without_area(route):
        if "region=&" in route.request.url and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(
        re.compile(re.escape(reverse("web:fault_check")) + r"\?"), hold_the_question_without_area
    )
    page.select_option("#id_category_other", str(net.coverage.pk))
    page.fill("#id_customer_region", "西湖区")
    page.locator("#id_customer_region").blur()
    page.wait_for_selector("#fault-box", state="visible")
    assert len(held) == 1
    with page.expect_response(lambda r: "region=&" in r.url):
        held[0].continue_()
    page.wait_for_timeout(200)  # the late answer's handler has run
    assert page.locator("#fault-box").is_visible()
    assert page.is_checked("#id_fault_related")
    ctx.close()
