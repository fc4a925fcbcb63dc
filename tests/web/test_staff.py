"""The handlers' and leads' phone pages: queues, the order page's actions through the domain
services, the lead's approvals, where each lands after login, and bad input kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from tests.factories import DepartmentFactory, report, ticket_in_state, user_with
from tests.web.conftest import login, photo
from workorders import services
from workorders.models import (
    CoHandling,
    ExtensionRequest,
    RequestStatus,
    State,
    SuspensionRequest,
)


def order_url(t, action=""):
    name = f"web:order_{action}" if action else "web:order"
    return reverse(name, args=[t.number])


QUEUE = reverse("web:staff_queue")
APPROVALS = reverse("web:staff_approvals")


# --------------------------------------------------------------------------- landing


def test_field_handler_lands_on_the_phone_queue(cast):
    assert login(cast.handler).get("/").url == QUEUE


@pytest.mark.parametrize("role", ["lead", "dispatcher", "supervisor"])
def test_desk_roles_land_on_the_back_office(cast, role):
    assert login(cast.by_role(role)).get("/").url == reverse("admin:index")


def test_handler_who_is_also_lead_lands_on_the_back_office(cast):
    both = user_with("handler", "lead", department=cast.network, username="t_both")
    assert login(both).get("/").url == reverse("admin:index")


def test_frontline_still_lands_on_my_orders(front):
    assert front.get("/").url == reverse("web:my_orders")


def test_queue_is_for_handlers_and_leads_only(front, cast):
    assert front.get(QUEUE).status_code == 403
    assert login(cast.lead).get(QUEUE).status_code == 200
    assert front.get(APPROVALS).status_code == 403
    assert login(cast.handler).get(APPROVALS).status_code == 403


def test_handler_menu_has_the_queue_not_the_report(cast):
    html = login(cast.handler).get(QUEUE).content.decode()
    assert f'href="{QUEUE}"' in html
    assert f'href="{reverse("web:report")}"' not in html
    assert f'href="{APPROVALS}"' not in html
    assert 'href="/admin/"' in html  # the back office stays one tap away for staff


# --------------------------------------------------------------------------- queues


def test_queue_tabs_hold_open_work_sorted_by_time_left(cast):
    now = timezone.now()
    later = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=1))
    sooner = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=30))
    replied = ticket_in_state(cast, State.REPLIED, now=now - timedelta(hours=40))
    claimable_late = ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(hours=2))
    claimable_soon = ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(hours=20))
    elsewhere = report(cast)
    services.ticket_dispatch(ticket=elsewhere, by=cast.dispatcher, department=cast.business)
    client = login(cast.handler)

    mine = client.get(QUEUE).content.decode()
    assert mine.index(sooner.number) < mine.index(later.number)
    assert replied.number not in mine and claimable_soon.number not in mine

    dept = client.get(QUEUE + "?tab=department").content.decode()
    assert dept.index(claimable_soon.number) < dept.index(claimable_late.number)
    assert later.number not in dept and elsewhere.number not in dept
    assert dept.count('action="/orders/') == 2  # a 签收 button on each claimable row


def _make(cast, n, state, now):
    for i in range(n):
        ticket_in_state(cast, state, now=now - timedelta(minutes=10 * i))


@pytest.mark.parametrize(
    "url,state", [(QUEUE, State.ACCEPTED), (QUEUE + "?tab=department", State.DISPATCHED)]
)
def test_queue_query_count_does_not_grow_with_rows(
    cast, url, state, django_assert_num_queries, settings
):
    now = timezone.now()
    client = login(cast.handler)
    _make(cast, 3, state, now)
    client.get(url)  # warm the per-process reference caches (calendars, rules)
    with django_assert_num_queries(QUEUE_QUERIES) as few:
        assert client.get(url).status_code == 200
    _make(cast, 27, state, now - timedelta(hours=1))
    with django_assert_num_queries(QUEUE_QUERIES) as many:
        html = client.get(url).content.decode()
    assert html.count('class="order"') == 20  # a full page of the 30
    assert len(few.captured_queries) == len(many.captured_queries)


# session, user, roles, user and group permissions, the user's department, the two tabs'
# counts (one is the page's), the page's rows, the unread badge
QUEUE_QUERIES = 10


def test_approvals_query_count_does_not_grow_with_rows(cast, django_assert_num_queries):
    now = timezone.now()
    client = login(cast.lead)

    def add(n):
        for i in range(n):
            t = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(minutes=i))
            services.ticket_request_suspension(
                ticket=t, by=cast.handler, reason="appointment", until=now + timedelta(days=1)
            )
            services.ticket_request_extension(ticket=t, by=cast.handler, hours=4, reason="配件")
            ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(minutes=i))

    add(2)
    client.get(APPROVALS)
    with django_assert_num_queries(APPROVAL_QUERIES) as few:
        assert client.get(APPROVALS).status_code == 200
    add(10)
    with django_assert_num_queries(APPROVAL_QUERIES) as many:
        html = client.get(APPROVALS).content.decode()
    assert html.count('class="card request"') == 24
    assert len(few.captured_queries) == len(many.captured_queries)


# session, user, roles, user and group permissions, the lead's department, suspension and
# extension requests (with their orders and requesters), the handlers to choose from, the
# orders to assign, the unread badge
APPROVAL_QUERIES = 11


# --------------------------------------------------------------------------- order page


def test_claim_from_the_department_tab_through_the_service(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    client = login(cast.handler)
    response = client.post(order_url(t, "claim"), {"version": t.version, "from": "queue"})
    assert response.status_code == 302 and response.url == order_url(t)
    t.refresh_from_db()
    assert t.state == State.ACCEPTED and t.handler == cast.handler
    assert t.audit.filter(transition="claim", actor=cast.handler).exists()


def test_claim_of_an_order_someone_else_claimed_says_so(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    seen = t.version
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.lead)
    response = login(cast.handler).post(
        order_url(t, "claim"), {"version": seen, "from": "queue"}, follow=True
    )
    assert "已过期" in response.content.decode() or "不能执行" in response.content.decode()
    t.refresh_from_db()
    assert t.handler == cast.lead


def test_order_page_offers_the_handler_his_actions_and_a_tel_link(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    html = login(cast.handler).get(order_url(t)).content.decode()
    assert 'href="tel:13800138000"' in html
    for form in (
        'id="reply"',
        'id="request-suspension"',
        'id="request-extension"',
        'id="request-cohandling"',
    ):
        assert form in html
    # Assigning is the lead's (workorders.permissions): not offered here.
    assert 'id="assign"' not in html
    lead_html = login(cast.lead).get(order_url(t)).content.decode()
    assert 'id="request-cohandling"' in lead_html and 'id="assign"' in lead_html


def test_phone_is_masked_without_the_right_to_see_it(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    group = Group.objects.get(name="handler")
    group.permissions.remove(Permission.objects.get(codename="view_full_phone"))
    html = login(cast.handler).get(order_url(t)).content.decode()
    assert "138****8000" in html
    assert "tel:" not in html and "13800138000" not in html


def test_reply_with_cause_public_reply_and_a_photo(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    response = login(cast.handler).post(
        order_url(t, "reply"),
        {
            "version": t.version,
            "cause": "network",
            "resolved": "yes",
            "result": "更换光猫后恢复",
            "public_reply": "您好，宽带已恢复。",
            "photos": [photo("modem.jpg")],
        },
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.state == State.REPLIED
    assert t.reply_cause == "network" and t.public_reply == "您好，宽带已恢复。"
    assert t.attachments.get().original_name == "modem.jpg"


def test_reply_without_result_keeps_what_was_typed_and_the_photo(cast, settings):
    t = ticket_in_state(cast, State.ACCEPTED)
    client = login(cast.handler)
    key = "0" * 31 + "1"
    response = client.post(
        order_url(t, "reply"),
        {
            "version": t.version,
            "form_key": key,
            "cause": "network",
            "resolved": "yes",
            "result": " ",
            "public_reply": "您好，已处理。",
            "photos": [photo("modem.jpg")],
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "请填写处理结果" in html
    assert "您好，已处理。" in html and 'value="network" selected' in html
    assert "modem.jpg" in html  # kept for the retry
    t.refresh_from_db()
    assert t.state == State.ACCEPTED and not t.attachments.exists()

    response = client.post(
        order_url(t, "reply"),
        {
            "version": t.version,
            "form_key": key,
            "cause": "network",
            "resolved": "yes",
            "result": "已处理",
            "public_reply": "您好，已处理。",
        },
    )
    assert response.status_code == 302
    assert t.attachments.get().original_name == "modem.jpg"


def test_suspension_request_needs_a_reason_and_keeps_the_rest(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    client = login(cast.handler)
    until = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        order_url(t, "request_suspension"),
        {"version": t.version, "reason": "", "until": until, "note": "客户周末在家"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "请选择客户方原因" in html and "客户周末在家" in html and until in html
    response = client.post(
        order_url(t, "request_suspension"),
        {"version": t.version, "reason": "appointment", "until": until, "note": "客户周末在家"},
    )
    assert response.status_code == 302
    req = SuspensionRequest.objects.get(ticket=t)
    assert req.requested_by == cast.handler and req.status == RequestStatus.PENDING
    assert "挂起申请待审批" in client.get(order_url(t)).content.decode()


def test_extension_request_without_reason_is_refused_in_chinese(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    client = login(cast.handler)
    response = client.post(order_url(t, "request_extension"), {"version": t.version, "hours": 8})
    assert response.status_code == 400
    assert "此项为必填项" in response.content.decode()
    response = client.post(
        order_url(t, "request_extension"), {"version": t.version, "hours": 8, "reason": "等配件"}
    )
    assert response.status_code == 302
    assert ExtensionRequest.objects.get(ticket=t).hours == 8


def test_the_assigned_handler_requests_cohandling_from_the_field(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    assert t.handler == cast.handler
    assert 'id="request-cohandling"' in login(cast.handler).get(order_url(t)).content.decode()
    data = {"version": t.version, "department": cast.business.pk, "note": "需要业务支撑"}
    assert login(cast.handler).post(order_url(t, "cohandling"), data).status_code == 302
    row = CoHandling.objects.get(ticket=t)
    assert (row.department, row.requested_by) == (cast.business, cast.handler)


def test_another_handler_of_the_department_cannot_request_cohandling(cast):
    other = user_with("handler", department=cast.network, username="t_handler3")
    t = ticket_in_state(cast, State.ACCEPTED)
    assert 'id="request-cohandling"' not in login(other).get(order_url(t)).content.decode()
    data = {"version": t.version, "department": cast.business.pk, "note": "需要业务支撑"}
    assert login(other).post(order_url(t, "cohandling"), data).status_code == 403
    assert not CoHandling.objects.exists()
    assert login(cast.lead).post(order_url(t, "cohandling"), data).status_code == 302
    assert CoHandling.objects.get(ticket=t).department == cast.business


def test_handler_cannot_reply_on_someone_elses_order(cast):
    other = user_with("handler", department=cast.network, username="t_handler2")
    t = ticket_in_state(cast, State.ACCEPTED)
    response = login(other).post(
        order_url(t, "reply"),
        {"version": t.version, "cause": "network", "resolved": "yes", "result": "好了"},
    )
    assert response.status_code == 403
    t.refresh_from_db()
    assert t.state == State.ACCEPTED


# --------------------------------------------------------------------------- the lead's page


def _pending_suspension(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    req = services.ticket_request_suspension(
        ticket=t,
        by=cast.handler,
        reason="appointment",
        until=timezone.now() + timedelta(days=1),
    )
    return t, req


def test_lead_approves_a_suspension(cast):
    t, req = _pending_suspension(cast)
    client = login(cast.lead)
    assert f'id="suspension-{req.pk}"' in client.get(APPROVALS).content.decode()
    response = client.post(
        reverse("web:staff_decide", args=["suspension", req.pk]),
        {"decision": "approve", "version": t.version},
    )
    assert response.status_code == 302 and response.url == APPROVALS
    t.refresh_from_db()
    assert t.state == State.SUSPENDED
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED and req.decided_by == cast.lead


def test_refusal_without_a_reason_is_refused_and_nothing_changes(cast):
    t, req = _pending_suspension(cast)
    client = login(cast.lead)
    url = reverse("web:staff_decide", args=["suspension", req.pk])
    response = client.post(url, {"decision": "refuse", "version": t.version, "note": " "})
    assert response.status_code == 400
    assert "驳回时请填写理由" in response.content.decode()
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    response = client.post(url, {"decision": "refuse", "version": t.version, "note": "客户已在家"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == RequestStatus.REFUSED and req.decision_note == "客户已在家"


def test_lead_decides_an_extension_but_not_an_urgent_one(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    req = services.ticket_request_extension(ticket=t, by=cast.handler, hours=6, reason="等配件")
    urgent = ticket_in_state(cast, State.ACCEPTED, category=cast.urgent_category)
    services.ticket_request_extension(ticket=urgent, by=cast.handler, hours=1, reason="等配件")
    client = login(cast.lead)
    html = client.get(APPROVALS).content.decode()
    assert "紧急工单的延期需督办审批" in html
    response = client.post(
        reverse("web:staff_decide", args=["extension", req.pk]),
        {"decision": "approve", "version": t.version},
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.extension_count == 1


def test_other_departments_requests_are_not_shown_nor_decidable(cast):
    _t, req = _pending_suspension(cast)
    client = login(cast.other_lead)
    assert f'id="suspension-{req.pk}"' not in client.get(APPROVALS).content.decode()
    url = reverse("web:staff_decide", args=["suspension", req.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 404


def test_lead_assigns_an_order_from_the_approvals_page(cast):
    team = DepartmentFactory(name="家宽装维班", parent=cast.network)
    fitter = user_with("handler", department=team, username="t_fitter")
    t = ticket_in_state(cast, State.DISPATCHED)
    client = login(cast.lead)
    html = client.get(APPROVALS).content.decode()
    assert t.number in html and f'value="{fitter.pk}"' in html
    response = client.post(
        order_url(t, "assign"), {"handler": fitter.pk, "version": t.version, "next": "approvals"}
    )
    assert response.status_code == 302 and response.url == APPROVALS
    t.refresh_from_db()
    assert t.handler == fitter
    assert t.number in login(fitter).get(QUEUE).content.decode()


def test_assign_without_a_handler_says_so(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    response = login(cast.lead).post(
        order_url(t, "assign"), {"handler": "", "version": t.version, "next": "approvals"}
    )
    assert response.status_code == 400
    assert "请选择处理人" in response.content.decode()


# --------------------------------------------------------------------------- English


def test_english_staff_pages_have_no_chinese_but_the_data(cast):
    from accounts.models import Department
    from notifications.models import Delivery, Notification
    from tests.web.test_pages import _cjk

    t, req = _pending_suspension(cast)
    waiting = ticket_in_state(cast, State.DISPATCHED)
    data = [
        *[d.payload["text"] for d in Delivery.objects.filter(channel="sms")],
        *Notification.objects.values_list("title", flat=True),
        t.description,
        t.category.name,
        *Department.objects.values_list("name", flat=True),
        "非本部门",
    ]

    def english(user, url):
        client = login(user)
        client.cookies["django_language"] = "en"
        html = client.get(url).content.decode()
        for d in data:
            html = html.replace(d, "")
        return html

    assert _cjk(english(cast.handler, QUEUE)) == []
    assert _cjk(english(cast.handler, QUEUE + "?tab=department")) == []
    approvals = english(cast.lead, APPROVALS)
    assert f'id="suspension-{req.pk}"' in approvals and "Approve" in approvals
    assert _cjk(approvals) == []
    assert _cjk(english(cast.lead, order_url(t))) == []
    assert _cjk(english(cast.lead, order_url(waiting))) == []


def test_handler_resumes_a_suspended_order(cast):
    t = ticket_in_state(cast, State.SUSPENDED)
    client = login(cast.handler)
    assert 'id="resume"' in client.get(order_url(t)).content.decode()
    response = client.post(order_url(t, "resume"), {"version": t.version})
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.state == State.ACCEPTED


def test_lead_requests_a_return_with_a_reason(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    client = login(cast.lead)
    assert 'id="request-return"' in client.get(order_url(t)).content.decode()
    assert 'id="request-return"' not in login(cast.handler).get(order_url(t)).content.decode()
    response = client.post(order_url(t, "return"), {"version": t.version, "reason": ""})
    assert response.status_code == 400
    assert "此项为必填项" in response.content.decode()
    response = client.post(order_url(t, "return"), {"version": t.version, "reason": "属于业务部门"})
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.state == State.RETURN_REQUESTED


def test_queue_countdowns_tick_except_a_suspended_orders(cast):
    running = ticket_in_state(cast, State.ACCEPTED)
    frozen = ticket_in_state(cast, State.SUSPENDED)
    html = login(cast.handler).get(QUEUE).content.decode()
    assert "web/countdown" in html  # the ticking script
    rows = {t.number: html.split(t.number, 1)[1].split("</li>", 1)[0] for t in (running, frozen)}
    assert "data-due=" in rows[running.number]
    assert "data-countdown" in rows[frozen.number] and "data-due=" not in rows[frozen.number]
