"""The dispatcher's morning in a real browser at 1366×768: the queue of orders to dispatch,
the first order, its dispatch form with the routing rule's department preselected,
“保存并处理下一张” to the next order, and back at the emptied queue. The workload page and the
reply-template admin pass axe-core too."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.a11y import assert_accessible
from tests.conftest import chromium_path
from tests.factories import PASSWORD, ticket_in_state
from workorders.models import ReplyTemplate, State, Ticket

CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium found (install Debian's chromium package or set CHROMIUM=/path)",
    ),
]
DESKTOP = {"width": 1366, "height": 768}


@pytest.fixture
def browser():
    """One Chromium per test (as tests/web/test_browser.py: the ORM connection stays ours)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield b
            b.close()
            connections.close_all()
    finally:
        if old is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "backoffice"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(browser, base, username):
    page = browser.new_context(
        viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai"
    ).new_page()
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def test_dispatcher_works_through_the_queue(live_server, browser, shots, cast):
    cast.category.default_department = cast.network
    cast.category.save()
    t0 = timezone.now() - timedelta(hours=1)
    first, second = (
        ticket_in_state(cast, State.REPORTED, now=t0 + timedelta(minutes=i), phone=f"1390000000{i}")
        for i in range(2)
    )
    ticket_in_state(cast, State.ACCEPTED, phone="13900000009")  # not in this queue
    ReplyTemplate.objects.create(
        department=cast.network,
        category=cast.category,
        cause="network",
        title="光猫更换",
        result="已上门更换光猫。",
        public_reply="您好，您的宽带已恢复。",
    )
    base = live_server.url

    page = log_in(browser, base, cast.dispatcher.username)
    page.goto(f"{base}{reverse('admin:workorders_ticket_changelist')}?state__exact=reported")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    page.click("#result_list tbody tr:first-child th a")
    page.wait_for_selector("#bo-transitions")
    assert first.number in page.inner_text("#content")

    page.click('a.bo-transition[data-transition="dispatch"]')
    page.wait_for_selector("#bo-transition-form")
    assert page.input_value("#id_department") == str(cast.network.pk)
    assert "路由规则建议" in page.inner_text("#bo-transition-form")
    assert_accessible(page, where="dispatch form")
    page.screenshot(path=str(shots / "dispatch-preselected.png"), full_page=True)

    page.click("#bo-transition-form input[name=_next]")
    page.wait_for_url(re.compile(rf"/ticket/{second.pk}/change/"))
    assert f"{first.number}：已派单。" in page.inner_text(".messagelist")

    page.click('a.bo-transition[data-transition="dispatch"]')
    page.wait_for_selector("#bo-transition-form")
    assert page.input_value("#id_department") == str(cast.network.pk)
    page.click("#bo-transition-form input[name=_next]")
    page.wait_for_url(re.compile(r"/admin/workorders/ticket/\?state__exact=reported$"))
    assert "当前队列已处理完" in page.inner_text(".messagelist")
    assert page.locator("#result_list tbody tr").count() == 0
    page.screenshot(path=str(shots / "dispatch-queue-done.png"), full_page=True)
    assert set(Ticket.objects.values_list("state", flat=True)) == {State.DISPATCHED, State.ACCEPTED}

    page.goto(f"{base}{reverse('admin:workorders_ticket_workload')}?department={cast.network.pk}")
    page.wait_for_selector("#bo-workload")
    assert cast.handler.username in page.inner_text("#bo-workload")
    assert_accessible(page, where="workload page")
    page.screenshot(path=str(shots / "workload.png"), full_page=True)

    lead = log_in(browser, base, cast.lead.username)
    lead.goto(f"{base}{reverse('admin:workorders_replytemplate_changelist')}")
    lead.wait_for_selector("#result_list")
    assert_accessible(lead, where="reply-template list")
    lead.goto(f"{base}{reverse('admin:workorders_replytemplate_add')}")
    lead.wait_for_selector("#replytemplate_form")
    assert_accessible(lead, where="reply-template form")
    lead.screenshot(path=str(shots / "reply-template-form.png"), full_page=True)

    accepted = Ticket.objects.get(state=State.ACCEPTED)
    lead.goto(f"{base}{reverse('admin:workorders_ticket_transition', args=[accepted.pk, 'reply'])}")
    lead.click("#bo-reply-templates a")
    lead.wait_for_url(re.compile(r"template="))
    assert lead.input_value("#id_result") == "已上门更换光猫。"
    assert_accessible(lead, where="reply form with templates")
