"""The report (吹哨) page: the form, the domain's messages next to the fields, kept photos,
one order per form key, and the repeat-complaint warning."""

import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import report, user_with
from tests.web.conftest import login, photo
from workorders.models import Attachment, Ticket

URL = reverse("web:report")


def form_data(cast, **over):
    data = {
        "form_key": uuid.uuid4().hex,
        "category": cast.category.pk,
        "channel": "field",
        "customer_name": "张三",
        "customer_phone": "13912345678",
        "customer_address": "西湖区文三路1号",
        "customer_region": "西湖区",
        "star_level": "5",
        "is_elderly": "on",
        "description": "宽带每晚掉线",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("web:login"))


def test_form_shows_categories_as_buttons_with_the_urgent_ones_marked(front, cast):
    html = front.get(URL).content.decode()
    assert 'type="radio" name="category"' in html
    assert "缴费延开 <small>紧急</small>" in html
    assert 'name="form_key"' in html
    assert 'accept="image/*"' in html and "multiple" in html


def test_most_used_category_comes_first(front, cast):
    report(cast, category=cast.urgent_category)
    html = front.get(URL).content.decode()
    # Another input of the page may carry the same value: look for the category buttons only.
    assert html.index(f'name="category" value="{cast.urgent_category.pk}"') < html.index(
        f'name="category" value="{cast.category.pk}"'
    )


def test_valid_report_with_photo_creates_the_order_and_shows_it(front, cast, settings):
    response = front.post(URL, {**form_data(cast), "photos": [photo("door.jpg")]})

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("web:order", args=[ticket.number])
    assert ticket.reporter == cast.frontline
    assert ticket.customer_phone == "13912345678"
    assert ticket.star_level == 5 and ticket.is_elderly
    att = Attachment.objects.get()
    assert att.original_name == "door.jpg"
    stored = Path(att.file.path)
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT))
    assert "door" not in stored.name  # random name on disk
    assert not stored.is_relative_to(Path(settings.STATIC_ROOT))


def test_bad_phone_shows_the_services_message_and_keeps_every_field(front, cast):
    response = front.post(URL, form_data(cast, customer_phone="12345"))

    html = response.content.decode()
    assert response.status_code == 400
    assert not Ticket.objects.exists()
    assert "请输入正确的手机号" in html
    assert 'value="12345"' in html
    assert 'value="西湖区文三路1号"' in html
    assert "宽带每晚掉线" in html
    assert 'value="5" selected' in html
    assert 'name="is_elderly" id="id_is_elderly" checked' in html
    assert f'value="{cast.category.pk}" data-urgent="" checked' in html


def test_english_phone_message_when_the_user_reads_english(front, cast):
    front.cookies["django_language"] = "en"
    html = front.post(URL, form_data(cast, customer_phone="12345")).content.decode()
    assert "mobile" in html.lower()
    assert "请输入正确的手机号" not in html


def test_missing_category_and_description_are_reported_together(front, cast):
    response = front.post(URL, form_data(cast, category=None, description=""))
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["category"]
    assert form.errors["description"]


def test_non_image_photo_is_refused_and_the_good_one_is_kept_for_the_retry(front, cast):
    bad = photo("notes.txt", b"just some text, not an image" * 10)
    response = front.post(
        URL, {**form_data(cast), "photos": [photo("good.jpg"), bad]}, format="multipart"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "notes.txt" in html and "不是支持的图片格式" in html
    assert "good.jpg" in html  # kept, listed on the form
    kept = response.context["form"].kept
    assert [k["name"] for k in kept] == ["good.jpg"]

    # The retry sends no files: the kept photo goes with the order.
    key = response.context["form"]["form_key"].value()
    response = front.post(URL, form_data(cast, form_key=key))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert list(ticket.attachments.values_list("original_name", flat=True)) == ["good.jpg"]


def test_kept_photo_can_be_dropped(front, cast):
    response = front.post(URL, {**form_data(cast, customer_phone="1"), "photos": [photo("a.jpg")]})
    form = response.context["form"]
    key = form["form_key"].value()
    drop = form.kept[0]["id"]
    response = front.post(URL, form_data(cast, form_key=key, drop_kept=[drop]))
    assert response.status_code == 302
    assert not Attachment.objects.exists()


def test_oversize_photo_is_refused(front, cast, settings):
    settings.ATTACHMENT_MAX_BYTES = 200
    response = front.post(URL, {**form_data(cast), "photos": [photo("big.jpg", b"\xff" * 300)]})
    assert response.status_code == 400
    assert "big.jpg" in response.content.decode()
    assert "超过" in response.content.decode()
    assert not Ticket.objects.exists()


def test_more_than_six_photos_is_refused(front, cast):
    photos = [photo(f"p{i}.jpg") for i in range(7)]
    response = front.post(URL, {**form_data(cast), "photos": photos})
    assert response.status_code == 400
    assert "最多上传 6 张图片" in response.content.decode()


def test_same_form_key_twice_makes_one_order_and_shows_it_both_times(front, cast):
    data = form_data(cast)
    first = front.post(URL, data)
    second = front.post(URL, data)

    assert Ticket.objects.count() == 1
    assert first.url == second.url
    follow = front.get(second.url)
    assert "没有重复创建" in follow.content.decode()


def test_back_edit_and_resubmit_with_the_same_key_shows_the_first_order(front, cast):
    data = form_data(cast)
    first = front.post(URL, data)
    second = front.post(URL, {**data, "description": "改过的描述"})

    assert Ticket.objects.count() == 1
    assert second.status_code == 302 and second.url == first.url


def test_changing_urgency_needs_a_reason(front, cast):
    response = front.post(URL, form_data(cast, urgency="urgent"))
    assert response.status_code == 400
    assert response.context["form"].errors["urgency_reason"]
    response = front.post(URL, form_data(cast, urgency="urgent", urgency_reason="客户断网影响营业"))
    assert response.status_code == 302
    assert Ticket.objects.get().urgency == "urgent"


def test_urgent_category_defaults_to_urgent(front, cast):
    front.post(URL, form_data(cast, category=cast.urgent_category.pk))
    assert Ticket.objects.get().urgency == "urgent"


def test_category_from_the_full_list(front, cast):
    front.post(URL, form_data(cast, category=None, category_other=cast.urgent_category.pk))
    assert Ticket.objects.get().category == cast.urgent_category


def test_repeat_check_tells_the_earlier_order(front, cast):
    earlier = report(cast, phone="13912345678")
    url = reverse("web:repeat_check")
    data = front.get(url, {"phone": "13912345678", "category": cast.category.pk}).json()
    assert data["repeat"] is True
    assert data["number"] == earlier.number
    assert data["url"] == reverse("web:order", args=[earlier.number])
    assert front.get(url, {"phone": "13900000000", "category": cast.category.pk}).json() == {
        "repeat": False
    }
    assert front.get(url, {"phone": "139", "category": "x"}).json() == {"repeat": False}


def test_repeat_check_is_only_for_those_who_report(cast):
    report(cast, phone="13912345678")
    response = login(cast.handler).get(
        reverse("web:repeat_check"), {"phone": "13912345678", "category": cast.category.pk}
    )
    assert response.status_code == 403
    assert response.json() == {"repeat": False}


def test_repeat_is_linked_after_submit(front, cast):
    earlier = report(cast, phone="13912345678")
    response = front.post(URL, form_data(cast), follow=True)
    html = response.content.decode()
    assert reverse("web:order", args=[earlier.number]) in html
    assert Ticket.objects.exclude(pk=earlier.pk).get().repeat_of == earlier


def test_repeat_is_shown_on_a_form_with_errors_without_script(front, cast):
    earlier = report(cast, phone="13912345678")
    response = front.post(URL, form_data(cast, description=""))
    assert earlier.number in response.content.decode()


@pytest.mark.parametrize("role", ["handler", "lead", "supervisor", "auditor"])
def test_roles_that_may_not_report_get_403(cast, role):
    response = login(cast.by_role(role)).get(URL)
    assert response.status_code == 403
    assert "不能在这里吹哨" in response.content.decode()


def test_dispatcher_may_report_too(cast):
    client = login(cast.dispatcher)
    assert client.get(URL).status_code == 200


def test_user_without_role_is_refused(db, cast):
    nobody = user_with(username="nobody")
    assert login(nobody).get(URL).status_code == 403


def test_reported_order_appears_in_the_admin_for_the_dispatcher(front, cast):
    front.post(URL, form_data(cast))
    number = Ticket.objects.get().number
    response = login(cast.dispatcher).get(reverse("admin:workorders_ticket_changelist"))
    assert response.status_code == 200
    assert number in response.content.decode()


def test_a_tampered_form_key_is_refused_and_nothing_is_stored(front, cast, settings):
    response = front.post(
        URL, {**form_data(cast, form_key="../../etc"), "photos": [photo("a.jpg")]}
    )
    assert response.status_code == 400
    assert "表单已失效" in response.content.decode()
    assert not Ticket.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "tmp").exists()


def test_kept_photos_are_forgotten_after_the_keep_time(front, cast, settings):
    import os
    import time

    from web import uploads

    response = front.post(URL, {**form_data(cast, customer_phone="1"), "photos": [photo()]})
    key = response.context["form"]["form_key"].value()
    assert uploads.kept(cast.frontline, key)
    folder = Path(settings.MEDIA_ROOT) / "tmp" / str(cast.frontline.pk) / key
    old = time.time() - (settings.WEB_UPLOAD_KEEP_HOURS + 1) * 3600
    os.utime(folder, (old, old))

    uploads.keep(cast.frontline, uuid.uuid4().hex, [])  # any later keep sweeps

    assert not folder.exists()
    assert uploads.kept(cast.frontline, key) == []


def test_kept_photos_are_removed_once_the_order_exists(front, cast, settings):
    response = front.post(URL, {**form_data(cast, customer_phone="1"), "photos": [photo()]})
    key = response.context["form"]["form_key"].value()
    front.post(URL, form_data(cast, form_key=key))
    assert Ticket.objects.get().attachments.count() == 1
    assert not (Path(settings.MEDIA_ROOT) / "tmp" / str(cast.frontline.pk) / key).exists()
