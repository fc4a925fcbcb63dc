"""Reporting an order (吹哨): numbering, repeat detection, routing rules, and bad input."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from sla.models import Clock
from tests.factories import CategoryFactory, jpeg_bytes, report, ticket_in_state
from workorders import services
from workorders.errors import Invalid, InvalidState
from workorders.models import (
    Attachment,
    AuditEntry,
    State,
    Ticket,
    TicketSequence,
)
from workorders.phones import normalize_phone

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = timedelta(days=1)
MB = 1024 * 1024


def test_number_scheme_is_gd_local_date_and_daily_sequence(cast):
    # 23:30 UTC on 31 Oct is already 1 Nov in Shanghai.
    late_utc = datetime(2026, 10, 31, 23, 30, tzinfo=ZoneInfo("UTC"))
    a = report(cast, now=late_utc)
    b = report(cast, now=late_utc, phone="13900139000")
    c = report(cast, now=late_utc + DAY)
    assert (a.number, b.number, c.number) == (
        "GD20261101000001",
        "GD20261101000002",
        "GD20261102000001",
    )
    assert all(re.fullmatch(r"GD\d{14}", n) for n in (a.number, b.number, c.number))


# --- repeat complaints (DESIGN.md §5) ---------------------------------------------------------


def test_same_phone_and_category_within_30_days_is_a_repeat_linked_to_the_earlier(cast):
    first = report(cast, now=T0)
    again = report(cast, now=T0 + 29 * DAY)
    again.refresh_from_db()
    assert again.is_repeat is True
    assert again.repeat_of_id == first.pk
    assert again.is_priority is True  # repeats rank with VIP/elderly in every queue
    entry = AuditEntry.objects.get(ticket=again, transition="report")
    assert entry.data == {"repeat_of": first.number}


def test_phone_typed_with_spaces_is_the_same_customer(cast):
    first = report(cast, now=T0)
    again = report(cast, now=T0 + DAY, phone=" 138 0013 8000 ")
    assert (again.customer_phone, again.repeat_of_id) == ("13800138000", first.pk)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0571-87654321", "0571-87654321"),
        ("057187654321", "0571-87654321"),
        ("0571 8765 4321", "0571-87654321"),
        ("01012345678", "010-12345678"),
        ("021-1234567", "021-1234567"),
        ("0211234567", "021-1234567"),
        ("138-0013-8000", "13800138000"),
        ("12345", "12345"),  # not a number: left for the validator to refuse
    ],
)
def test_one_spelling_per_number(typed, stored):
    assert normalize_phone(typed) == stored


def test_fixed_line_with_or_without_the_hyphen_is_the_same_customer(cast):
    first = report(cast, now=T0, phone="0571-87654321")
    again = report(cast, now=T0 + DAY, phone="057187654321")
    assert (again.customer_phone, again.repeat_of_id) == ("0571-87654321", first.pk)


def test_migration_brings_older_orders_to_the_one_spelling(cast):
    import importlib

    from django.apps import apps

    old = report(cast, now=T0)
    Ticket.objects.filter(pk=old.pk).update(customer_phone="057187654321")
    mobile = report(cast, now=T0, phone="13900139000")
    migration = importlib.import_module("workorders.migrations.0003_normalize_customer_phones")
    migration.forwards(apps, None)
    assert Ticket.objects.get(pk=old.pk).customer_phone == "0571-87654321"
    assert Ticket.objects.get(pk=mobile.pk).customer_phone == "13900139000"
    again = report(cast, now=T0 + DAY, phone="0571-87654321")
    assert again.repeat_of_id == old.pk


def test_after_31_days_it_is_not_a_repeat(cast):
    report(cast, now=T0)
    later = report(cast, now=T0 + 31 * DAY)
    later.refresh_from_db()
    assert (later.is_repeat, later.repeat_of_id, later.is_priority) == (False, None, False)


def test_repeat_links_the_most_recent_earlier_order(cast):
    report(cast, now=T0)
    second = report(cast, now=T0 + 10 * DAY)
    third = report(cast, now=T0 + 20 * DAY)
    assert third.repeat_of_id == second.pk


@pytest.mark.parametrize("change", ["phone", "category"])
def test_other_phone_or_category_is_not_a_repeat(cast, change):
    report(cast, now=T0)
    if change == "phone":
        t = report(cast, now=T0 + DAY, phone="13900139000")
    else:
        t = report(cast, now=T0 + DAY, category=cast.urgent_category)
    assert t.is_repeat is False and t.repeat_of_id is None


# --- routing rules ----------------------------------------------------------------------------


def test_category_with_auto_dispatch_is_dispatched_by_the_system_on_report(cast):
    routed = CategoryFactory(
        name="信号覆盖", code="signal_auto", default_department=cast.network, auto_dispatch=True
    )
    t = report(cast, now=T0, category=routed)
    t.refresh_from_db()
    assert (t.state, t.department_id, t.dispatched_by_id) == (
        State.DISPATCHED,
        cast.network.pk,
        None,
    )
    trail = list(
        AuditEntry.objects.filter(ticket=t).values_list("transition", "actor", "actor_role")
    )
    assert trail == [("report", cast.frontline.pk, "frontline"), ("dispatch", None, "system")]
    sign_for = Clock.objects.get(ticket=t, kind="sign_for")
    assert (sign_for.department_id, sign_for.started_at) == (cast.network.pk, T0)
    assert Clock.objects.get(ticket=t, kind="dispatch").outcome == "met"


def test_default_department_without_auto_dispatch_waits_for_a_dispatcher(cast):
    cat = CategoryFactory(code="manual_route", default_department=cast.network, auto_dispatch=False)
    t = report(cast, now=T0, category=cat)
    assert Ticket.objects.get(pk=t.pk).state == State.REPORTED


# --- bad input: a clear error in the user's language and nothing written ----------------------


def _counts():
    return (
        Ticket.objects.count(),
        AuditEntry.objects.count(),
        Clock.objects.count(),
        Attachment.objects.count(),
        list(TicketSequence.objects.values_list("day", "last")),
    )


def _report_error(cast, lang, **kw) -> Invalid:
    """Report through the service with valid input except for `kw`; nothing may be written."""
    args = {
        "by": cast.frontline,
        "category": cast.category,
        "customer_phone": "13800138000",
        "description": "家里宽带经常掉线",
        "now": T0,
        **kw,
    }
    before = _counts()
    with translation.override(lang), pytest.raises(Invalid) as info:
        services.ticket_report(**args)
    assert _counts() == before
    return info.value


@pytest.mark.parametrize(
    ("lang", "message"), [("zh-hans", "请选择问题分类。"), ("en", "Choose a category.")]
)
def test_missing_category(cast, lang, message):
    err = _report_error(cast, lang, category=None)
    assert err.fields["category"] == [message]


@pytest.mark.parametrize(
    "phone", ["12345", "2380013800", "1380013800a", "10800138000", "138001380001"]
)
@pytest.mark.parametrize(
    ("lang", "fragment"), [("zh-hans", "请输入正确的手机号"), ("en", "Enter a valid mobile number")]
)
def test_malformed_phone(cast, phone, lang, fragment):
    err = _report_error(cast, lang, customer_phone=phone)
    assert any(fragment in m for m in err.fields["customer_phone"]), err.fields


@pytest.mark.parametrize(
    ("lang", "message"), [("zh-hans", "此字段不能为空。"), ("en", "This field cannot be blank.")]
)
def test_missing_phone(cast, lang, message):
    assert _report_error(cast, lang, customer_phone="  ").fields["customer_phone"] == [message]


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("13800138000", "13800138000"),
        ("0571-87654321", "0571-87654321"),
        ("02188886666", "021-88886666"),  # stored in its one spelling
    ],
)
def test_well_formed_phones_are_accepted(cast, phone, stored):
    assert report(cast, now=T0, phone=phone).customer_phone == stored


def _oversize_jpeg():
    data = jpeg_bytes()
    return SimpleUploadedFile("big.jpg", data + b"\0" * (10 * MB + 1 - len(data)), "image/jpeg")


def _not_an_image():
    return SimpleUploadedFile("fake.jpg", b"%PDF-1.4\n%...not a photo\n" * 40, "image/jpeg")


@pytest.mark.parametrize(
    ("make", "lang", "message"),
    [
        (_oversize_jpeg, "zh-hans", "“big.jpg”超过 10 MB，请压缩后再上传。"),
        (_oversize_jpeg, "en", '"big.jpg" is larger than 10 MB. Shrink it and upload again.'),
        (_not_an_image, "zh-hans", "“fake.jpg”不是支持的图片格式（JPEG、PNG、WebP、HEIC）。"),
        (_not_an_image, "en", '"fake.jpg" is not a supported image (JPEG, PNG, WebP, HEIC).'),
    ],
)
def test_bad_attachment_on_report(cast, make, lang, message):
    good = SimpleUploadedFile("ok.jpg", jpeg_bytes(), "image/jpeg")
    err = _report_error(cast, lang, attachments=[good, make()])
    assert err.fields["attachments"] == [message]


@pytest.mark.parametrize("make", [_oversize_jpeg, _not_an_image])
def test_bad_attachment_on_an_existing_order(cast, make):
    t = report(cast, now=T0)
    before = _counts()
    with pytest.raises(Invalid):
        services.ticket_attach(ticket=t, by=cast.frontline, files=[make()])
    assert _counts() == before


def test_good_photo_is_stored_with_its_real_type(cast):
    png = SimpleUploadedFile("photo.jpg", _png(), "image/jpeg")
    t = report(cast, now=T0, attachments=[png])
    att = Attachment.objects.get(ticket=t)
    assert (att.content_type, att.original_name) == ("image/png", "photo.jpg")


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("zh-hans", "工单当前状态为“已办结”，不能执行此操作。"),
        ("en", 'The order is "Closed"; this action is not possible now.'),
    ],
)
def test_transition_from_a_wrong_state(cast, lang, message):
    t = ticket_in_state(cast, State.CLOSED)
    before = _counts()
    with translation.override(lang), pytest.raises(InvalidState) as info:
        services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.business)
    with translation.override(lang):
        assert str(info.value.message) == message
    assert _counts() == before
    assert Ticket.objects.get(pk=t.pk).state == State.CLOSED


def test_missing_reason_writes_nothing(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    before = _counts()
    with translation.override("en"), pytest.raises(Invalid) as info:
        services.ticket_request_return(ticket=t, by=cast.lead, reason="  ")
    assert info.value.fields == {"reason": ["This field is required."]}
    assert _counts() == before


# --- urgency, priority, idempotency -----------------------------------------------------------


def test_overriding_the_suggested_urgency_needs_a_reason(cast):
    err = _report_error(cast, "en", urgency="urgent")
    assert list(err.fields) == ["urgency_reason"]
    t = report(cast, now=T0, urgency="urgent", urgency_reason="客户为医院，影响业务")
    assert (t.urgency, t.is_urgent) == ("urgent", True)
    assert Clock.objects.get(ticket=t, kind="promise").due_at == T0 + timedelta(hours=4)


@pytest.mark.parametrize(
    "flag", [{"star_level": 5}, {"is_elderly": True}, {"claimed_escalation": True}]
)
def test_vip_elderly_or_claimed_escalation_is_priority(cast, flag):
    assert report(cast, now=T0, **flag).is_priority is True
    assert report(cast, now=T0, phone="13900139000", star_level=4).is_priority is False


def test_queue_order_urgent_then_priority_then_nearest_due(cast):
    plain_late = report(cast, now=T0 + timedelta(hours=2), phone="13900000001")
    plain_early = report(cast, now=T0, phone="13900000002")
    vip = report(cast, now=T0 + timedelta(hours=3), phone="13900000003", star_level=5)
    urgent = report(cast, now=T0 + timedelta(hours=1), category=cast.urgent_category)
    assert list(Ticket.objects.by_priority()) == [urgent, vip, plain_early, plain_late]


def test_same_idempotency_key_and_request_returns_the_first_order(cast):
    from workorders.errors import IdempotencyMismatch

    first = report(cast, now=T0, idempotency_key="k-1")
    again = report(cast, now=T0, idempotency_key="k-1")
    assert (again.pk, again.replayed) == (first.pk, True)
    assert Ticket.objects.count() == 1
    with pytest.raises(IdempotencyMismatch):
        report(cast, now=T0, idempotency_key="k-1", description="另一件事")
    assert Ticket.objects.count() == 1
