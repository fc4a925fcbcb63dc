"""The fault board in the back office: order of the rows, buttons per role, the action forms
(bad input stays on the form), bulk link, the plot, and the order page's fault box."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault, FaultLink, FaultState
from faults.services import fault_confirm

from .conftest import order, orders_near

pytestmark = pytest.mark.django_db

BOARD = "admin:faults_fault_changelist"


def client(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


def do(fault, name):
    return reverse("admin:faults_fault_do", args=[fault.pk, name])


def page(fault):
    return reverse("admin:faults_fault_change", args=[fault.pk])


@pytest.fixture
def two(cast, net):
    """A confirmed fault detected an hour ago and a suspected one detected now."""
    now = timezone.now()
    early = now - timedelta(hours=1)
    orders_near(cast, net.coverage, n=5, now=early)
    fault_detect(now=early)
    confirmed = fault_confirm(fault=Fault.objects.get(), by=cast.dispatcher, now=early).fault
    orders_near(cast, net.broadband, n=6, now=now, north=8000)
    fault_detect(now=now)
    suspected = Fault.objects.get(state=FaultState.SUSPECTED)
    return confirmed, suspected


def test_board_lists_suspected_first_with_counts_area_and_worst_sla(cast, two):
    confirmed, suspected = two
    r = client(cast.dispatcher).get(reverse(BOARD))
    assert r.status_code == 200
    html = r.content.decode()
    assert html.index(suspected.number) < html.index(confirmed.number)
    rows = r.context["rows"]
    assert [row.fault.number for row in rows] == [suspected.number, confirmed.number]
    assert rows[0].open_children == 6 and rows[0].worst_sla == "on_track"
    assert "sla-on_track" in html
    # The dispatcher may confirm/dismiss the suspected one; nothing on the confirmed one but
    # the ETA.
    assert [b["name"] for b in rows[0].buttons] == ["confirm", "dismiss"]
    assert [b["name"] for b in rows[1].buttons] == ["set_eta"]


def test_board_buttons_follow_each_roles_rights(cast, two):
    confirmed, suspected = two
    lead_rows = client(cast.lead).get(reverse(BOARD)).context["rows"]
    by_number = {row.fault.number: [b["name"] for b in row.buttons] for row in lead_rows}
    assert by_number == {suspected.number: [], confirmed.number: ["set_eta", "resolve"]}
    for user in (cast.auditor, cast.supervisor):
        rows = client(user).get(reverse(BOARD)).context["rows"]
        assert len(rows) == 2 and all(row.buttons == [] for row in rows)
    assert client(cast.other_lead).get(reverse(BOARD)).context["rows"] == []
    assert client(cast.frontline).get(reverse(BOARD)).status_code in (302, 403)


def test_confirm_form_keeps_input_on_a_bad_eta(cast, two):
    _confirmed, suspected = two
    c = client(cast.dispatcher)
    assert c.get(do(suspected, "confirm")).status_code == 200
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    r = c.post(do(suspected, "confirm"), {"eta": past, "message": "抢修中，请稍候"})
    assert r.status_code == 400
    assert "预计恢复时间须晚于当前时间" in r.content.decode()
    assert "抢修中，请稍候" in r.content.decode()
    assert Fault.objects.get(pk=suspected.pk).state == FaultState.SUSPECTED
    future = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    r = c.post(do(suspected, "confirm"), {"eta": future, "message": "抢修中"}, follow=True)
    assert Fault.objects.get(pk=suspected.pk).state == FaultState.CONFIRMED
    assert "已确认" in r.content.decode()


def test_dismiss_needs_a_reason_on_the_form(cast, two):
    _confirmed, suspected = two
    c = client(cast.dispatcher)
    r = c.post(do(suspected, "dismiss"), {"reason": ""})
    assert r.status_code == 400 and "此项为必填项" in r.content.decode()
    c.post(do(suspected, "dismiss"), {"reason": "各自独立"})
    assert Fault.objects.get(pk=suspected.pk).state == FaultState.DISMISSED


def test_a_refused_action_is_a_message_on_the_fault_page(cast, two):
    confirmed, _suspected = two
    r = client(cast.lead).post(do(confirmed, "close"), follow=True)
    assert "您无权执行此操作" in r.content.decode()


def test_resolve_reports_children_that_could_not_be_replied(cast, two):
    from workorders import services as orders

    confirmed, _suspected = two
    first = confirmed.links.order_by("ticket__number").first().ticket
    orders.ticket_request_return(ticket=first, by=cast.lead, reason="非本部门")
    r = client(cast.lead).post(
        do(confirmed, "resolve"), {"public_reply": "已恢复", "cause": "network"}, follow=True
    )
    html = r.content.decode()
    assert "已回复 4 张工单" in html and first.number in html
    assert Fault.objects.get(pk=confirmed.pk).state == FaultState.RESOLVED


def test_fault_page_plot_children_and_bulk_link(cast, net, two):
    confirmed, _suspected = two
    extra = order(cast, net.coverage, at=timezone.now(), north=100)
    far = order(cast, net.coverage, at=timezone.now(), north=30000)
    c = client(cast.dispatcher)
    r = c.get(page(confirmed))
    html = r.content.decode()
    assert r.status_code == 200
    assert html.count('class="fault-order"') == 5  # one dot per located child
    assert 'class="fault-area"' in html and "<svg" in html and "<image" not in html
    # Candidates: the nearby unlinked order, not the far one.
    candidates = [t.number for t in r.context["candidates"]]
    assert extra.number in candidates and far.number not in candidates
    r = c.post(do(confirmed, "link"), {"tickets": [extra.pk], "numbers": far.number}, follow=True)
    assert FaultLink.objects.filter(ticket__in=[extra, far], unlinked_at=None).count() == 2
    assert "已关联 2 张工单" in r.content.decode()
    # A number that does not exist: the form says so and links nothing.
    r = c.post(do(confirmed, "link"), {"numbers": "GD19990101000001"})
    assert r.status_code == 400 and "GD19990101000001" in r.content.decode()


def test_unlink_from_the_fault_page(cast, two):
    confirmed, _suspected = two
    child = confirmed.links.first().ticket
    c = client(cast.dispatcher)
    r = c.post(do(confirmed, "unlink"), {"ticket": child.pk, "reason": ""}, follow=True)
    assert "此项为必填项" in r.content.decode()
    c.post(do(confirmed, "unlink"), {"ticket": child.pk, "reason": "非同一故障"})
    assert not FaultLink.objects.filter(ticket=child, unlinked_at=None).exists()


def test_the_plot_lays_tiles_only_with_a_tile_url(cast, two, settings):
    confirmed, _suspected = two
    settings.FAULTS_MAP_TILE_URL = "https://tiles.example.internal/{z}/{x}/{y}.png"
    html = client(cast.dispatcher).get(page(confirmed)).content.decode()
    assert '<image href="https://tiles.example.internal/' in html


def test_the_order_page_shows_its_fault(cast, two):
    confirmed, _suspected = two
    child = confirmed.links.first().ticket
    r = client(cast.dispatcher).get(reverse("admin:workorders_ticket_change", args=[child.pk]))
    html = r.content.decode()
    assert 'id="bo-fault"' in html and confirmed.number in html
    assert page(confirmed) in html


def test_an_invisible_fault_is_404(cast, two):
    confirmed, _suspected = two
    assert client(cast.other_lead).get(page(confirmed)).status_code == 404
    assert client(cast.other_lead).post(do(confirmed, "close")).status_code == 404


def test_board_and_fault_page_in_english_have_no_chinese_but_the_data(cast, net, two):
    import re

    confirmed, _suspected = two
    data = {"简体中文", "网络质量", "信号覆盖", "宽带断网", "网络保障", "业务管理", "渠道服务"}
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(cast.dispatcher)
    for url in (reverse(BOARD), page(confirmed), do(confirmed, "set_eta")):
        html = c.get(url).content.decode()
        body = html.split("<body", 1)[1]
        leftovers = set(re.findall(r"[\u4e00-\u9fff]+", body)) - data
        assert leftovers == set(), (url, leftovers)
    html = c.get(reverse(BOARD)).content.decode()
    assert "Fault board" in html and "Suspected" in html and "Worst order SLA" in html


def test_a_superuser_marks_a_category_clusterable(db, net):
    from accounts.models import User

    admin_user = User.objects.create_superuser("root", password="x")
    c = client(admin_user)
    url = reverse("admin:workorders_category_change", args=[net.billing.pk])
    form = c.get(url).content.decode()
    assert 'name="clusterable"' in form
    data = {
        "name": net.billing.name,
        "code": net.billing.code,
        "parent": net.billing.parent_id,
        "sort_order": 100,
        "is_active": "on",
        "default_urgency": "general",
        "clusterable": "on",
    }
    assert c.post(url, data).status_code == 302
    net.billing.refresh_from_db()
    assert net.billing.clusterable
