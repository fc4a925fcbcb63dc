"""The dispatcher's flow on the order page: the routing rule's department preselected, the
category corrected, and “保存并处理下一张” through the queue the order was opened from."""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.backoffice.conftest import change_url, changelist_url, do_url, messages_of
from tests.factories import CategoryFactory, ticket_in_state
from workorders.models import AuditEntry, State

pytestmark = pytest.mark.django_db

QUEUE = "state__exact=reported"


def queued(url: str, queue: str = QUEUE) -> str:
    return f"{url}?{urlencode({'_changelist_filters': queue})}"


@pytest.fixture
def routed(cast):
    cast.category.default_department = cast.business
    cast.category.save()
    return cast.business


@pytest.fixture
def three(cast):
    """Three orders waiting for dispatch, in queue order (same urgency: nearest due first)."""
    t0 = timezone.now() - timedelta(hours=1)
    return [
        # Different customers: a repeat complaint would be prioritised in the queue.
        ticket_in_state(cast, State.REPORTED, now=t0 + timedelta(minutes=i), phone=f"1380013800{i}")
        for i in range(3)
    ]


def test_dispatch_form_preselects_the_routing_rules_department(cast, client_for, routed):
    t = ticket_in_state(cast, State.REPORTED)
    response = client_for(cast.dispatcher).get(do_url(t, "dispatch"))
    form = response.context["form"]
    assert form["department"].value() == routed.pk
    assert f'<option value="{routed.pk}" selected>' in response.content.decode()


def test_dispatch_form_without_routing_rule_preselects_nothing(cast, client_for):
    t = ticket_in_state(cast, State.REPORTED)
    form = client_for(cast.dispatcher).get(do_url(t, "dispatch")).context["form"]
    assert form["department"].value() is None


def test_inactive_routing_department_is_not_suggested(cast, client_for, routed):
    routed.is_active = False
    routed.save()
    t = ticket_in_state(cast, State.REPORTED)
    form = client_for(cast.dispatcher).get(do_url(t, "dispatch")).context["form"]
    assert form["department"].value() is None


def test_order_page_buttons_carry_the_queue(cast, client_for, three):
    response = client_for(cast.dispatcher).get(queued(change_url(three[0])))
    urls = {t["name"]: t["url"] for t in response.context["bo_transitions"]}
    assert parse_qs(urlsplit(urls["dispatch"]).query)["_changelist_filters"] == [QUEUE]


def test_save_and_next_walks_the_queue_and_ends_at_the_empty_queue(cast, client_for, three):
    c = client_for(cast.dispatcher)
    for i, t in enumerate(three):
        response = c.post(
            queued(do_url(t, "dispatch")),
            {"department": cast.network.pk, "version": t.version, "_next": "1"},
        )
        assert response.status_code == 302
        t.refresh_from_db()
        assert t.state == State.DISPATCHED
        if i < 2:
            assert response["Location"] == queued(change_url(three[i + 1]))
    assert response["Location"] == f"{changelist_url()}?{QUEUE}"
    page = c.get(response["Location"])
    assert "当前队列已处理完，没有下一张工单。" in messages_of(page)


def test_plain_save_stays_on_the_order_with_its_queue(cast, client_for, three):
    t = three[0]
    response = client_for(cast.dispatcher).post(
        queued(do_url(t, "dispatch")), {"department": cast.network.pk, "version": t.version}
    )
    assert response["Location"] == queued(change_url(t))


def test_next_follows_the_current_order_even_when_it_stays_in_the_queue(cast, client_for, three):
    """Correcting the category leaves the order in the reported queue: the next one is the one
    after it, not the queue's top again."""
    billing = CategoryFactory(name="计费争议", code="billing_dispute")
    t = three[1]
    response = client_for(cast.dispatcher).post(
        queued(do_url(t, "correct_category")),
        {"category": billing.pk, "reason": "计费问题", "version": t.version, "_next": "1"},
    )
    assert response["Location"] == queued(change_url(three[2]))


def test_last_order_of_a_queue_that_still_holds_others_says_so(cast, client_for, three):
    c = client_for(cast.dispatcher)
    t = three[2]  # the queue's last; the two before it stay in the queue
    response = c.post(
        queued(do_url(t, "dispatch")),
        {"department": cast.network.pk, "version": t.version, "_next": "1"},
    )
    assert response["Location"] == f"{changelist_url()}?{QUEUE}"
    assert "已是当前队列的最后一张工单。" in messages_of(c.get(response["Location"]))


def test_next_respects_a_sort_chosen_on_the_changelist(cast, client_for, three):
    """Sorted by report time, newest first (the changelist's `o`), the next order after the
    newest is the middle one."""
    c = client_for(cast.dispatcher)
    columns = c.get(changelist_url()).context["cl"].list_display
    col = columns.index("reported_at")
    queue = f"{QUEUE}&o=-{col}"
    response = c.post(
        queued(do_url(three[2], "dispatch"), queue),
        {"department": cast.network.pk, "version": three[2].version, "_next": "1"},
    )
    assert response["Location"] == queued(change_url(three[1]), queue)


def test_an_error_keeps_the_queue_and_what_was_typed(cast, client_for, three):
    t = three[0]
    response = client_for(cast.dispatcher).post(
        queued(do_url(t, "correct_category")),
        {"category": cast.category.pk, "reason": "理由照写", "version": t.version, "_next": "1"},
    )
    assert response.status_code == 200
    assert "请选择与当前不同的分类。" in response.content.decode()
    assert response.context["form"]["reason"].value() == "理由照写"


def test_correct_category_from_the_order_page(cast, client_for):
    billing = CategoryFactory(name="计费争议", code="billing_dispute")
    t = ticket_in_state(cast, State.ACCEPTED)
    c = client_for(cast.lead)
    response = c.post(
        do_url(t, "correct_category"),
        {"category": billing.pk, "reason": "其实是计费问题", "version": t.version},
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.category == billing
    assert AuditEntry.objects.filter(ticket=t, transition="correct_category").count() == 1
    page = c.get(change_url(t))
    assert f"{t.number}：已更正分类。" in messages_of(page)


def test_correct_category_with_a_stale_version_is_refused(cast, client_for):
    billing = CategoryFactory(name="计费争议", code="billing_dispute")
    t = ticket_in_state(cast, State.REPORTED)
    seen = t.version - 1
    c = client_for(cast.dispatcher)
    response = c.post(
        do_url(t, "correct_category"), {"category": billing.pk, "reason": "计费", "version": seen}
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.category == cast.category
    assert any("您看到的版本已过期" in m for m in messages_of(c.get(change_url(t))))


def test_the_flow_pages_in_english(cast, client_for, routed):
    t = ticket_in_state(cast, State.REPORTED)
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(cast.dispatcher)
    dispatch = c.get(do_url(t, "dispatch")).content.decode()
    assert 'value="Save and next"' in dispatch
    assert "Suggested by the routing rule" in dispatch
    order = c.get(change_url(t)).content.decode()
    assert ">Correct category<" in order
    workload = c.get(reverse("admin:workorders_ticket_workload")).content.decode()
    assert "Handler workload" in workload and "处理人工作量" not in workload


def test_save_and_next_follows_a_role_preset(cast, client_for, three):
    """The dispatcher's 待派单 preset (`?preset=to_dispatch`) is a queue like any filter."""
    preset = "preset=to_dispatch"
    c = client_for(cast.dispatcher)
    for i, t in enumerate(three):
        response = c.post(
            queued(do_url(t, "dispatch"), preset),
            {"department": cast.network.pk, "version": t.version, "_next": "1"},
        )
        expected = (
            queued(change_url(three[i + 1]), preset) if i < 2 else f"{changelist_url()}?{preset}"
        )
        assert response["Location"] == expected
    assert "当前队列已处理完，没有下一张工单。" in messages_of(c.get(response["Location"]))
