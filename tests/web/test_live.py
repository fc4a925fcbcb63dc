"""Live phone lists: the list region refreshed conditionally (ETag → 304), the 待我确认 tab
(replied orders awaiting the reporter's verdict, confirmed or rejected from the list), and the
repeat-complaint check behind the warning under the phone field."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import report, ticket_in_state
from tests.web.conftest import login
from workorders import services
from workorders.models import State

LIST = reverse("web:my_orders")


def _queries(client, url, data=None, **headers) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, data or {}, **headers)
    return len(ctx.captured_queries), response


# --------------------------------------------------------------------------- ETag / 304


def test_list_region_is_conditional_304_until_something_changes(front, cast):
    report(cast)
    first = front.get(LIST, {"partial": "1"})
    etag = first["ETag"]
    assert first.status_code == 200
    assert "<nav" not in first.content.decode()  # the list region only, not the page
    assert 'id="orders"' in first.content.decode()

    again = front.get(LIST, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    newer = report(cast)
    changed = front.get(LIST, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert newer.number in changed.content.decode()


def test_a_transition_on_a_listed_order_changes_the_etag(front, cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    etag = front.get(LIST, {"partial": "1"})["ETag"]
    services.ticket_claim(ticket=t, by=cast.lead)
    response = front.get(LIST, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert t.number in response.content.decode()


def test_etags_differ_per_tab_and_per_user(front, cast):
    report(cast)
    mine = front.get(LIST, {"partial": "1"})["ETag"]
    assert front.get(LIST, {"partial": "1", "status": "open"})["ETag"] != mine
    other = login(cast.other_frontline).get(LIST, {"partial": "1"}, HTTP_IF_NONE_MATCH=mine)
    assert other.status_code == 200


def test_304_costs_the_same_queries_for_3_and_for_30_orders(front, cast):
    for _ in range(3):
        report(cast)
    etag = front.get(LIST, {"partial": "1"})["ETag"]
    few, response = _queries(front, LIST, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    for _ in range(27):
        report(cast)
    etag = front.get(LIST, {"partial": "1"})["ETag"]
    many, response = _queries(front, LIST, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert few == many <= 6  # session, user, rights (3), the fingerprint


def test_page_marks_the_live_region_and_loads_the_scripts(front, cast):
    html = front.get(LIST).content.decode()
    assert 'id="orders-live" data-live="/orders/?page=1&amp;partial=1"' in html
    assert "web/live" in html and "web/countdown" in html
    assert 'id="countdown-words"' in html
    assert "<script>" not in html  # no inline script (CSP)


# --------------------------------------------------------------------------- 待我确认


@pytest.fixture
def replied(cast):
    return ticket_in_state(cast, State.REPLIED)


def confirm_list(client):
    return client.get(LIST, {"status": "confirm"})


def test_confirm_tab_lists_my_replied_orders_only(front, cast, replied):
    accepted = ticket_in_state(cast, State.ACCEPTED)
    closed = ticket_in_state(cast, State.CLOSED)
    theirs = ticket_in_state(cast, State.REPLIED, by=cast.other_frontline)
    html = confirm_list(front).content.decode()
    assert f'id="confirm-{replied.number}"' in html
    for other in (accepted, closed, theirs):
        assert other.number not in html
    assert 'aria-current="page">待我确认' in html
    assert "已更换光猫，恢复正常" in html  # the reply to confirm with the customer


def test_confirm_tab_leaves_out_an_order_whose_redo_awaits_the_supervisor(front, cast, replied):
    services.ticket_visit(
        ticket=replied,
        by=cast.frontline,
        outcome="success",
        resolved=False,
        satisfaction="unsatisfied",
        note="仍然掉线",
    )
    assert replied.number not in confirm_list(front).content.decode()


def test_a_regulator_order_waits_for_the_supervisors_sign_off_before_the_verdict(
    front, cast, replied
):
    """A regulator complaint cannot close before a supervisor signs off its reply: it is not in
    待我确认 and its page says why instead of offering the verdict form; after the sign-off it
    is asked for like any other."""
    services.ticket_mark_regulator(ticket=replied, by=cast.dispatcher, reason="客户已向管局申诉")
    assert replied.number not in confirm_list(front).content.decode()
    page = front.get(reverse("web:order", args=[replied.number])).content.decode()
    assert 'id="awaits-signoff"' in page and 'id="verdict"' not in page
    replied.refresh_from_db()
    services.ticket_regulator_signoff(ticket=replied, by=cast.supervisor, note="同意回复")
    assert f'id="confirm-{replied.number}"' in confirm_list(front).content.decode()
    page = front.get(reverse("web:order", args=[replied.number])).content.decode()
    assert 'id="awaits-signoff"' not in page and 'id="verdict"' in page


def test_confirm_tab_is_empty_for_who_may_not_give_the_verdict(cast, replied):
    # Another frontline worker (not the reporter) and a handler see nothing to confirm.
    for user in (cast.other_frontline, cast.handler):
        html = confirm_list(login(user)).content.decode()
        assert replied.number not in html
        assert "没有待确认的工单" in html


def test_confirm_from_the_list_closes_through_the_visit_service_and_comes_back(
    front, cast, replied
):
    response = front.post(
        reverse("web:order_verdict", args=[replied.number]),
        {
            "version": replied.version,
            "satisfaction": "satisfied",
            "resolved": "yes",
            "next": f"{LIST}?status=confirm",
        },
    )
    replied.refresh_from_db()
    assert response.status_code == 302
    assert response.url == f"{LIST}?status=confirm"
    assert replied.state == State.CLOSED
    assert replied.visit_by == cast.frontline and replied.visit_channel == "on_the_spot"
    assert replied.number not in confirm_list(front).content.decode()


def test_reject_from_the_list_asks_for_a_redo(front, cast, replied):
    front.post(
        reverse("web:order_verdict", args=[replied.number]),
        {"version": replied.version, "satisfaction": "unsatisfied", "resolved": "no"},
    )
    assert replied.redo_proposals.filter(status="pending").count() == 1


def test_next_leading_elsewhere_is_ignored(front, cast, replied):
    response = front.post(
        reverse("web:order_verdict", args=[replied.number]),
        {
            "version": replied.version,
            "satisfaction": "satisfied",
            "resolved": "yes",
            "next": "https://evil.example/orders/",
        },
    )
    assert response.url == reverse("web:order", args=[replied.number])


def test_someone_elses_order_cannot_be_confirmed_from_a_forged_list(cast, replied):
    response = login(cast.other_frontline).post(
        reverse("web:order_verdict", args=[replied.number]),
        {"version": replied.version, "satisfaction": "satisfied", "resolved": "yes"},
    )
    replied.refresh_from_db()
    assert response.status_code == 404
    assert replied.state == State.REPLIED


def test_confirm_tab_query_count_is_the_same_for_3_and_30_orders(front, cast):
    t0 = timezone.now() - timedelta(hours=40)
    for i in range(3):
        ticket_in_state(cast, State.REPLIED, now=t0 + timedelta(minutes=i * 10))
    few, response = _queries(front, LIST, {"status": "confirm"})
    assert response.content.decode().count('class="verdict-quick"') == 3
    for i in range(27):
        ticket_in_state(cast, State.REPLIED, now=t0 + timedelta(hours=1, minutes=i * 10))
    many, response = _queries(front, LIST, {"status": "confirm"})
    assert response.content.decode().count('class="verdict-quick"') == 20  # one page
    assert few == many


# --------------------------------------------------------------------------- repeat check

REPEAT = reverse("web:repeat_check")


def test_repeat_check_on_someone_elses_order_gives_no_link_and_no_number_of_the_customer(
    front, cast
):
    earlier = report(cast, phone="13912345678", by=cast.other_frontline)
    response = front.get(REPEAT, {"phone": "139 1234 5678", "category": cast.category.pk})
    data = response.json()
    assert data["repeat"] is True and data["number"] == earlier.number
    assert data["url"] == ""  # the reporter may not open it
    assert "13912345678" not in response.content.decode()
    assert "5678" not in data["message"]


def test_repeat_check_costs_the_same_queries_for_3_and_for_30_earlier_orders(front, cast):
    query = {"phone": "13912345678", "category": cast.category.pk}
    for _ in range(3):
        report(cast, phone="13912345678")
    few, response = _queries(front, REPEAT, query)
    assert response.json()["repeat"] is True
    for _ in range(27):
        report(cast, phone="13912345678")
    many, response = _queries(front, REPEAT, query)
    assert response.json()["repeat"] is True
    assert few == many


def test_report_page_puts_the_repeat_warning_right_under_the_phone_field(front, cast):
    report(cast, phone="13912345678")
    from tests.web.test_report import URL, form_data

    html = front.post(URL, form_data(cast, description="")).content.decode()
    phone_at = html.index('id="id_customer_phone"')
    box_at = html.index('id="repeat-box"')
    assert phone_at < box_at < html.index('id="id_customer_name"')
    assert 'aria-describedby="phone-help repeat-box"' in html


# --------------------------------------------------------------------------- offline


def test_service_worker_is_served_at_the_root_with_its_scope_allowed(client, db):
    response = client.get(reverse("web:sw"))
    body = response.content.decode()
    assert reverse("web:sw") == "/sw.js"  # its default scope "/" covers /report/
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert 'var REPORT = "/report/"' in body
    assert "importScripts(" in body and "web/outbox.js" in body


def test_pages_register_the_worker_from_a_static_file_only_when_logged_in(front, client, db):
    html = front.get(LIST).content.decode()
    assert 'src="/static/web/offline.js" data-user=' in html
    assert 'data-sw="/sw.js"' in html
    assert "offline.js" not in client.get(reverse("web:login")).content.decode()


def test_report_form_carries_the_outbox_banner_and_the_found_at_field(front, cast):
    html = front.get(reverse("web:report")).content.decode()
    assert 'id="outbox" class="msg" role="status"' in html
    assert "已保存，联网后自动提交。" in html
    assert 'name="found_at"' in html


# --------------------------------------------------------------------------- notifications

NOTES = reverse("web:notifications")


def _note(cast, i):
    from notifications.models import Notification

    return Notification.objects.create(
        recipient=cast.frontline,
        kind="replied",
        title=f"工单已回复 {i}",
        key=f"live-note-{i}",
        created_at=timezone.now(),
    )


def test_notification_list_refreshes_conditionally(front, cast):
    from notifications.services import notification_mark_read

    _note(cast, 1)
    first = front.get(NOTES, {"partial": "1"})
    etag = first["ETag"]
    assert first.status_code == 200 and "工单已回复 1" in first.content.decode()
    assert "<nav" not in first.content.decode()
    assert front.get(NOTES, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag).status_code == 304

    _note(cast, 2)
    newer = front.get(NOTES, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert newer.status_code == 200 and "工单已回复 2" in newer.content.decode()

    notification_mark_read(user=cast.frontline)  # read elsewhere: the 未读 tags go
    read = front.get(NOTES, {"partial": "1"}, HTTP_IF_NONE_MATCH=newer["ETag"])
    assert read.status_code == 200


def test_notification_304_costs_the_same_queries_for_3_and_30(front, cast):
    for i in range(3):
        _note(cast, i)
    etag = front.get(NOTES, {"partial": "1"})["ETag"]
    few, response = _queries(front, NOTES, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    for i in range(3, 30):
        _note(cast, i)
    etag = front.get(NOTES, {"partial": "1"})["ETag"]
    many, response = _queries(front, NOTES, {"partial": "1"}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert few == many <= 3  # session, user, the fingerprint
