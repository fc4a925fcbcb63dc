"""The handlers' and leads' phone pages in a real browser at 360×740: a field handler logs in,
lands on his queue, claims an order of his team and replies; a lead approves a suspension and
assigns an order. Each page: zero serious/critical axe-core findings, no sideways scroll,
44 px targets. Screenshots go to the test output folder (`web/`), and to docs/screenshots/
with WHISTLE_UPDATE_SCREENSHOTS=1 (the README's pictures)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.a11y import assert_accessible
from tests.factories import PASSWORD, DepartmentFactory, ticket_in_state, user_with
from tests.web.test_browser import (  # noqa: F401  (the same marks: browser, Chromium)
    assert_fits_phone,
    browser,
    phone_context,
    pytestmark,
)
from workorders import services
from workorders.models import RequestStatus, State, SuspensionRequest, Ticket


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "web"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    if os.environ.get("WHISTLE_UPDATE_SCREENSHOTS") == "1":
        docs = Path(settings.BASE_DIR) / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        for png in folder.glob("phone-*.png"):
            shutil.copy(png, docs / png.name)


def sign_in(page, username):
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def team_with_fitter(cast):
    team = DepartmentFactory(name="家宽装维班", code="t_broadband", parent=cast.network)
    fitter = user_with("handler", department=team, username="t_fitter", first_name="吴刚")
    return team, fitter


def dispatch_to(cast, team, **kw) -> Ticket:
    t = ticket_in_state(cast, State.REPORTED, **kw)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=team)
    return t


def test_field_handler_claims_from_his_team_and_replies(browser, live_server, cast, shots):  # noqa: F811
    team, fitter = team_with_fitter(cast)
    now = timezone.now()
    order = dispatch_to(cast, team, now=now - timedelta(hours=20), customer_address="文三路1号")
    dispatch_to(cast, team, now=now - timedelta(hours=1))
    ctx = phone_context(browser)
    page = ctx.new_page()

    page.goto(live_server.url + reverse("web:login"))
    sign_in(page, "t_fitter")
    page.wait_for_url(re.compile(r"/work/$"))
    assert "没有指派给您的未办结工单" in page.inner_text("main")
    assert_accessible(page, where="handler queue, mine (empty)")

    page.click(".tabs >> text=本部门待领")
    page.wait_for_url(re.compile(r"/work/\?tab=department$"))
    rows = page.locator("#queue .order")
    assert rows.count() == 2
    assert order.number in rows.first.inner_text()  # least time left first
    assert_fits_phone(page)
    assert_accessible(page, where="handler queue, my department")
    page.screenshot(path=shots / "staff-01-department.png", full_page=True)

    page.click(f"button[aria-label='签收 {order.number}']")
    page.wait_for_url(re.compile(rf"/orders/{order.number}/$"))
    assert "已签收" in page.inner_text("main")
    assert page.locator("a[href='tel:13800138000']").count() == 1
    assert_fits_phone(page)
    assert_accessible(page, where="handler order page with the reply form")
    page.click("#request-suspension summary")
    page.click("#request-extension summary")
    assert page.is_visible("#id_until") and page.is_visible("#id_hours")
    assert_fits_phone(page)
    assert_accessible(page, where="handler order page, suspension and extension forms open")

    # Too short first: the reply is refused in Chinese and nothing typed is lost.
    page.select_option("#id_cause", "network")
    page.check("#id_resolved_0")
    page.fill("#id_public_reply", "您好，您家的宽带已恢复正常。")
    page.click("#reply button[type=submit]")
    assert "请填写处理结果" in page.inner_text("#reply")
    assert page.input_value("#id_public_reply") == "您好，您家的宽带已恢复正常。"
    assert page.input_value("#id_cause") == "network"
    assert_accessible(page, where="handler reply refused")

    page.fill("#id_result", "光猫故障，已更换，测速正常")
    assert_fits_phone(page)
    page.screenshot(path=shots / "phone-handler.png", full_page=True)
    page.click("#reply button[type=submit]")
    page.wait_for_url(re.compile(rf"/orders/{order.number}/$"))
    assert "已回单" in page.inner_text("main")

    order.refresh_from_db()
    assert order.state == State.REPLIED and order.handler == fitter
    assert order.public_reply == "您好，您家的宽带已恢复正常。"
    assert order.reply_cause == "network"
    ctx.close()


def test_lead_approves_a_suspension_and_assigns_an_order(browser, live_server, cast, shots):  # noqa: F811
    team, fitter = team_with_fitter(cast)
    working = ticket_in_state(cast, State.ACCEPTED)
    request = services.ticket_request_suspension(
        ticket=working,
        by=cast.handler,
        reason="appointment",
        until=timezone.now() + timedelta(days=1),
        note="客户周六上午在家",
    )
    waiting = dispatch_to(cast, team)
    ctx = phone_context(browser)
    page = ctx.new_page()

    # A bookmark on the lead's phone: the page asks for the login, then opens.
    page.goto(live_server.url + reverse("web:staff_approvals"))
    page.wait_for_url(re.compile(r"/login/"))
    sign_in(page, "t_lead")
    page.wait_for_url(re.compile(r"/work/approvals/$"))
    card = page.locator(f"#suspension-{request.pk}")
    assert "客户周六上午在家" in card.inner_text()
    assert_fits_phone(page)
    assert_accessible(page, where="lead approvals")
    page.screenshot(path=shots / "phone-lead.png", full_page=True)

    # Refusing needs a reason: said in Chinese, nothing decided.
    card.locator("button[value=refuse]").click()
    assert "驳回时请填写理由" in page.inner_text(f"#suspension-{request.pk}")
    assert_accessible(page, where="lead approvals, refusal without a reason")
    page.locator(f"#suspension-{request.pk} button[value=approve]").click()
    page.wait_for_url(re.compile(r"/work/approvals/$"))
    assert "已批准挂起申请" in page.inner_text("main")
    assert page.locator(f"#suspension-{request.pk}").count() == 0

    page.select_option(f"#id_assign{waiting.pk}_handler", str(fitter.pk))
    page.locator(
        f"form[action='{reverse('web:order_assign', args=[waiting.number])}'] button"
    ).click()
    page.wait_for_url(re.compile(r"/work/approvals/$"))
    assert f"{waiting.number} 已指派给 吴刚" in page.inner_text("main")
    assert_fits_phone(page)
    page.screenshot(path=shots / "staff-02-lead-done.png", full_page=True)

    working.refresh_from_db()
    waiting.refresh_from_db()
    assert working.state == State.SUSPENDED
    assert SuspensionRequest.objects.get(pk=request.pk).status == RequestStatus.APPROVED
    assert waiting.handler == fitter
    ctx.close()


def test_without_javascript_a_handler_claims_asks_to_suspend_and_replies(
    browser,  # noqa: F811
    live_server,
    cast,
):
    """Plain forms, POST-redirect-GET and CSRF: every step works with scripts off."""
    team, fitter = team_with_fitter(cast)
    order = dispatch_to(cast, team)
    ctx = phone_context(browser, java_script_enabled=False)
    page = ctx.new_page()
    page.goto(live_server.url + reverse("web:login"))
    sign_in(page, "t_fitter")
    page.wait_for_url(re.compile(r"/work/$"))
    page.goto(live_server.url + reverse("web:staff_queue") + "?tab=department")
    page.click(f"button[aria-label='签收 {order.number}']")
    page.wait_for_url(re.compile(rf"/orders/{order.number}/$"))

    page.click("#request-suspension summary")  # <details> opens without script
    page.select_option("#id_reason", "appointment")
    page.fill("#id_until", (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#request-suspension button[type=submit]")
    page.wait_for_url(re.compile(rf"/orders/{order.number}/$"))
    assert "已提交挂起申请" in page.inner_text("main")

    page.select_option("#id_cause", "customer")
    page.check("#id_resolved_1")
    page.fill("#id_result", "客户不在家，已约周六")
    page.click("#reply button[type=submit]")
    page.wait_for_url(re.compile(rf"/orders/{order.number}/$"))
    order.refresh_from_db()
    assert order.state == State.REPLIED and order.handler == fitter
    assert order.reply_resolved is False
    assert SuspensionRequest.objects.filter(ticket=order, requested_by=fitter).exists()
    ctx.close()
