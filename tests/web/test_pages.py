"""Login, home, My orders, the order page and its actions, photos, notifications, language."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, Notification
from tests.factories import PASSWORD, report, ticket_in_state
from tests.web.conftest import login, photo
from workorders.models import Chase, Comment, RedoProposal, State


def order_url(t, action=""):
    return reverse(f"web:order_{action}" if action else "web:order", args=[t.number])


# --------------------------------------------------------------------------- login / home


def test_login_page_and_login_with_password(client, cast):
    assert client.get(reverse("web:login")).status_code == 200
    response = client.post(
        reverse("web:login"), {"username": "t_front", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("web:my_orders")
    assert response.wsgi_request.user == cast.frontline


def test_session_lasts_a_working_day(client, cast, settings):
    client.post(reverse("web:login"), {"username": "t_front", "password": PASSWORD})
    assert settings.SESSION_COOKIE_AGE >= 8 * 3600
    assert client.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE


def test_wrong_password_is_explained(client, cast):
    response = client.post(reverse("web:login"), {"username": "t_front", "password": "nope"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_logout_is_a_post_and_ends_the_session(front):
    response = front.post(reverse("web:logout"))
    assert response.status_code == 302
    assert front.get(reverse("web:my_orders")).status_code == 302


def test_home_sends_frontline_to_my_orders_and_back_office_to_admin(front, cast):
    assert front.get("/").url == reverse("web:my_orders")
    assert login(cast.dispatcher).get("/").url == reverse("admin:index")


def test_forms_carry_csrf(client, front, cast):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.frontline)
    t = report(cast)
    assert strict.post(order_url(t, "chase")).status_code == 403
    assert 'name="csrfmiddlewaretoken"' in front.get(order_url(t)).content.decode()


# --------------------------------------------------------------------------- my orders


def test_my_orders_lists_only_mine_newest_first_with_countdown(front, cast):
    now = timezone.now()
    older = report(cast, now=now - timedelta(hours=2))
    newer = report(cast, now=now - timedelta(minutes=5))
    theirs = report(cast, by=cast.other_frontline)
    html = front.get(reverse("web:my_orders")).content.decode()
    assert html.index(newer.number) < html.index(older.number)
    assert theirs.number not in html
    assert "剩余 " in html


def test_overdue_order_shows_in_red(front, cast):
    t = report(cast, now=timezone.now() - timedelta(hours=50))
    html = front.get(reverse("web:my_orders")).content.decode()
    assert t.number in html
    due = int(t.promise_due_at.timestamp() * 1000)
    # Red, and with the due moment for the page's script to keep it ticking.
    assert f'<span class="late" data-countdown data-due="{due}">已超时 ' in html


def test_open_and_closed_filter(front, cast):
    open_t = report(cast)
    closed_t = ticket_in_state(cast, State.CLOSED)
    html = front.get(reverse("web:my_orders"), {"status": "open"}).content.decode()
    assert open_t.number in html and closed_t.number not in html
    html = front.get(reverse("web:my_orders"), {"status": "closed"}).content.decode()
    assert closed_t.number in html and open_t.number not in html


def test_my_orders_query_count_is_flat(front, cast, django_assert_max_num_queries):
    for _ in range(5):
        report(cast)
    with django_assert_max_num_queries(8):
        front.get(reverse("web:my_orders"))


# --------------------------------------------------------------------------- order page


def test_order_page_shows_timeline_clocks_and_actions(front, cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    html = front.get(order_url(t)).content.decode()
    assert t.number in html
    for step in ("吹哨", "派单", "签收报到"):
        assert f"<b>{step}</b>" in html
    assert "承诺时限" in html
    assert 'id="chase"' in html and 'id="comment"' in html
    assert 'id="verdict"' not in html
    assert "13800138000" in html  # the reporter sees the number they entered


def test_someone_elses_order_is_404(cast):
    t = report(cast)
    assert login(cast.other_frontline).get(order_url(t)).status_code == 404
    assert login(cast.other_frontline).post(order_url(t, "chase")).status_code == 404


def test_unknown_order_is_404(front):
    assert front.get(reverse("web:order", args=["GD20990101000001"])).status_code == 404


def test_handler_sees_masked_phone_rules_from_permissions(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    html = login(cast.auditor).get(order_url(t)).content.decode()
    assert "138****8000" in html and "13800138000" not in html


def test_comment(front, cast):
    t = report(cast)
    response = front.post(order_url(t, "comment"), {"body": "客户下午在家"}, follow=True)
    assert Comment.objects.get(ticket=t).body == "客户下午在家"
    assert "客户下午在家" in response.content.decode()


def test_empty_comment_is_refused_next_to_the_field(front, cast):
    t = report(cast)
    response = front.post(order_url(t, "comment"), {"body": " "})
    assert response.status_code == 400
    assert "此项为必填项" in response.content.decode()
    assert not Comment.objects.exists()


def test_add_photos_and_refuse_a_non_image(front, cast):
    t = report(cast)
    response = front.post(order_url(t, "photos"), {"photos": [photo("more.jpg")]})
    assert response.status_code == 302
    assert t.attachments.get().original_name == "more.jpg"
    response = front.post(order_url(t, "photos"), {"photos": [photo("x.pdf", b"%PDF-1.4 " * 50)]})
    assert response.status_code == 400
    assert "不是支持的图片格式" in response.content.decode()
    assert t.attachments.count() == 1


def test_chase_once_then_refused_within_ten_minutes(front, cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    first = front.post(order_url(t, "chase"), {"note": "客户很急"})
    second = front.post(order_url(t, "chase"))
    assert first.status_code == 302
    assert second.status_code == 429
    assert "分钟后再催" in second.content.decode()
    assert Chase.objects.filter(ticket=t).count() == 1


def test_wrong_role_cannot_chase(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    response = login(cast.handler).post(order_url(t, "chase"))
    assert response.status_code == 403
    assert "无权" in response.content.decode()
    assert not Chase.objects.exists()


def test_verdict_satisfied_closes_the_order(front, cast):
    t = ticket_in_state(cast, State.REPLIED)
    assert 'id="verdict"' in front.get(order_url(t)).content.decode()
    response = front.post(
        order_url(t, "verdict"), {"resolved": "yes", "satisfaction": "satisfied", "note": "好"}
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.state == State.CLOSED
    assert t.visit_satisfaction == "satisfied" and t.visit_resolved is True
    html = front.get(order_url(t)).content.decode()
    assert "已解决 · 满意" in html
    assert 'id="verdict"' not in html and 'id="chase"' not in html


def test_verdict_unsatisfied_proposes_a_redo(front, cast):
    t = ticket_in_state(cast, State.REPLIED)
    response = front.post(
        order_url(t, "verdict"),
        {"resolved": "no", "satisfaction": "unsatisfied", "note": "还是断网"},
        follow=True,
    )
    t.refresh_from_db()
    assert t.state == State.REPLIED
    assert RedoProposal.objects.get(ticket=t).reason == "还是断网"
    assert "重办" in response.content.decode()


def test_verdict_without_satisfaction_is_refused_next_to_the_field(front, cast):
    t = ticket_in_state(cast, State.REPLIED)
    response = front.post(order_url(t, "verdict"), {"resolved": "yes"})
    assert response.status_code == 400
    assert "请选择满意度" in response.content.decode()


def test_verdict_on_an_order_not_awaiting_the_visit_is_refused(front, cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    response = front.post(order_url(t, "verdict"), {"resolved": "yes", "satisfaction": "satisfied"})
    assert response.status_code == 409
    t.refresh_from_db()
    assert t.state == State.ACCEPTED


# --------------------------------------------------------------------------- photos


def test_photo_is_served_only_to_those_who_see_the_order(front, cast, client):
    t = report(cast, attachments=[photo("p.jpg")])
    att = t.attachments.get()
    url = reverse("web:photo", args=[att.pk])
    response = front.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("private")
    assert login(cast.other_frontline).get(url).status_code == 404
    assert client.get(url).status_code == 302  # anonymous → login
    assert client.get(f"/media/{att.file.name}").status_code == 404  # never a direct URL


# --------------------------------------------------------------------------- notifications


def make_note(user, ticket=None, **kw):
    return Notification.objects.create(
        recipient=user,
        ticket=ticket,
        kind=kw.pop("kind", "replied"),
        title=kw.pop("title", "工单已回复"),
        key=kw.pop("key", f"k-{user.pk}-{Notification.objects.count()}"),
        created_at=timezone.now(),
        **kw,
    )


def test_unread_badge_and_list(front, cast):
    t = report(cast)
    make_note(cast.frontline, t)
    make_note(cast.frontline, t, read_at=timezone.now())
    make_note(cast.other_frontline, t, title="别人的通知")
    html = front.get(reverse("web:notifications")).content.decode()
    assert '<span class="badge"' in html and ">1</span>" in html
    assert "工单已回复" in html and "别人的通知" not in html


def test_tapping_a_notification_marks_it_read_and_opens_the_order(front, cast):
    t = report(cast)
    note = make_note(cast.frontline, t)
    response = front.post(reverse("web:notification_open", args=[note.pk]))
    assert response.url == order_url(t)
    note.refresh_from_db()
    assert note.read_at is not None
    assert '<span class="badge"' not in front.get(order_url(t)).content.decode()


def test_someone_elses_notification_is_404(front, cast):
    note = make_note(cast.other_frontline)
    assert front.post(reverse("web:notification_open", args=[note.pk])).status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_all_read(front, cast):
    make_note(cast.frontline)
    make_note(cast.frontline)
    front.post(reverse("web:notifications_read_all"))
    assert not Notification.objects.filter(recipient=cast.frontline, read_at=None).exists()


# --------------------------------------------------------------------------- language


def test_language_switch_is_remembered_in_a_lasting_cookie(front, cast):
    response = front.post(reverse("set_language"), {"language": "en", "next": "/orders/"})
    assert response.url == "/orders/"
    cookie = response.cookies["django_language"]
    assert cookie.value == "en" and int(cookie["max-age"]) >= 30 * 24 * 3600
    html = front.get(reverse("web:my_orders")).content.decode()
    assert "My orders" in html
    front.post(reverse("set_language"), {"language": "zh-hans", "next": "/orders/"})
    assert "我的工单" in front.get(reverse("web:my_orders")).content.decode()


def _cjk(text: str) -> list[str]:
    # The switch back names Chinese in Chinese, as language switches do.
    text = text.replace('lang="zh-hans">简体中文</button>', "")
    return sorted({ch for ch in text if "\u4e00" <= ch <= "\u9fff"})


def test_english_login_page_has_no_chinese_left(client, db):
    client.cookies["django_language"] = "en"
    html = client.get(reverse("web:login")).content.decode()
    assert "Log in" in html
    assert _cjk(html) == []


@pytest.mark.parametrize(
    "url",
    [
        reverse("web:my_orders"),
        reverse("web:my_orders") + "?status=closed",
        reverse("web:notifications"),
    ],
)
def test_english_pages_have_no_chinese_left(front, cast, url):
    front.cookies["django_language"] = "en"
    html = front.get(url).content.decode()
    assert _cjk(html) == []


def test_english_report_and_order_pages_have_no_chinese_but_the_data(front, cast):
    from workorders.models import Category

    front.cookies["django_language"] = "en"
    html = front.get(reverse("web:report")).content.decode()
    for c in Category.objects.all():
        html = html.replace(c.name, "")
    assert _cjk(html) == []

    t = ticket_in_state(cast, State.REPLIED)
    html = front.get(order_url(t)).content.decode()
    for data in (
        # Texts to the customer are data too (Chinese templates, in the customer's language);
        # first, as they contain other data.
        *[d.payload["text"] for d in Delivery.objects.filter(channel="sms", ticket=t)],
        t.description,
        t.reply_result,
        t.category.name,
        cast.network.name,
        "非本部门",
        # Notifications are stored text, written in the recipient's language when sent.
        *Notification.objects.filter(ticket=t).values_list("title", flat=True),
    ):
        html = html.replace(data, "")
    assert _cjk(html) == [], html
