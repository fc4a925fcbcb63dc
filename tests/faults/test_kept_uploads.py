"""Photos kept between a failed phone report and its retry are bounded per user and removed on
schedule (reliability issue §8: five retries with new form keys kept 30 MB). Beyond the cap the
photos of the user's older forms are dropped, oldest first: the form being submitted is the one
the user is working on. A photo that does not fit even then is not kept, and the form says so."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from PIL import Image

from tests.web.conftest import login, photo
from tests.web.test_report import URL, form_data
from web import uploads
from web.tasks import uploads_sweep_task
from workorders.models import Ticket

pytestmark = pytest.mark.django_db


def kept_files(user) -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT) / "tmp" / str(user.pk)
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and p.name != uploads.MANIFEST]


def failed_report(client, cast, *photos, key=None):
    """A report the domain refuses (bad phone number) with these photos, under a new form key
    as a reload of the page would give."""
    data = {**form_data(cast, customer_phone="1", form_key=key or uuid.uuid4().hex)}
    response = client.post(URL, {**data, "photos": list(photos)})
    assert response.status_code == 400
    return response


def age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def test_retries_with_new_form_keys_keep_at_most_the_cap_and_drop_the_oldest_forms(cast, settings):
    settings.WEB_UPLOAD_KEEP_MAX_FILES = 5
    phone = login(cast.frontline)
    keys = []
    for i in range(6):  # the 6th retry goes beyond the cap of 5 photos
        response = failed_report(phone, cast, photo(f"p{i}.jpg"))
        keys.append(response.context["form"]["form_key"].value())
        folder = Path(settings.MEDIA_ROOT) / "tmp" / str(cast.frontline.pk) / keys[-1]
        age(folder, 60 * (10 - i))  # distinct ages: the first form is the oldest

    assert len(kept_files(cast.frontline)) == 5
    assert uploads.kept(cast.frontline, keys[0]) == []  # the oldest form's photo went
    assert [k["name"] for k in uploads.kept(cast.frontline, keys[-1])] == ["p5.jpg"]
    for i in range(1, 6):
        assert [k["name"] for k in uploads.kept(cast.frontline, keys[i])] == [f"p{i}.jpg"]
    # The newest form's retry still makes the order with its photo.
    phone.post(URL, form_data(cast, form_key=keys[-1]))
    assert Ticket.objects.get().attachments.get().original_name == "p5.jpg"


def test_the_byte_cap_drops_older_forms_too(cast, settings):
    one = len(photo().read())
    settings.WEB_UPLOAD_KEEP_MAX_BYTES = 2 * one  # room for two photos
    phone = login(cast.frontline)
    first = failed_report(phone, cast, photo("a.jpg"), photo("b.jpg"))
    age(
        Path(settings.MEDIA_ROOT)
        / "tmp"
        / str(cast.frontline.pk)
        / first.context["form"]["form_key"].value(),
        600,
    )

    second = failed_report(phone, cast, photo("c.jpg"))

    assert [k["name"] for k in second.context["form"].kept] == ["c.jpg"]
    assert uploads.kept(cast.frontline, first.context["form"]["form_key"].value()) == []
    assert sum(p.stat().st_size for p in kept_files(cast.frontline)) <= 2 * one


def test_a_photo_beyond_the_cap_within_one_form_is_not_kept_and_the_form_says_so(cast, settings):
    settings.WEB_UPLOAD_KEEP_MAX_FILES = 2
    phone = login(cast.frontline)

    response = failed_report(phone, cast, photo("a.jpg"), photo("b.jpg"), photo("c.jpg"))

    form = response.context["form"]
    assert [k["name"] for k in form.kept] == ["a.jpg", "b.jpg"]
    html = response.content.decode()
    assert "暂存照片已达上限" in html and "c.jpg" in html
    assert len(kept_files(cast.frontline)) == 2


def test_the_cap_is_per_user(cast, settings):
    settings.WEB_UPLOAD_KEEP_MAX_FILES = 1
    failed_report(login(cast.frontline), cast, photo("mine.jpg"))

    failed_report(login(cast.other_frontline), cast, photo("theirs.jpg"))

    assert len(kept_files(cast.frontline)) == 1
    assert len(kept_files(cast.other_frontline)) == 1


def test_the_scheduled_sweep_removes_expired_kept_photos_of_every_user(cast, settings):
    for user in (cast.frontline, cast.other_frontline):
        failed_report(login(user), cast, photo())
    stale = Path(settings.MEDIA_ROOT) / "tmp" / str(cast.frontline.pk)
    for folder in stale.iterdir():
        age(folder, (settings.WEB_UPLOAD_KEEP_HOURS + 1) * 3600)

    removed = uploads_sweep_task.delay().get()

    assert removed == 1
    assert not stale.exists()  # the emptied user folder goes too
    assert len(kept_files(cast.other_frontline)) == 1  # still within the keep time
    assert uploads_sweep_task.delay().get() == 0  # safe to run again


def test_the_sweep_is_scheduled_in_beat():
    from config.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["web-uploads-sweep"]
    assert entry["task"] == "web.tasks.uploads_sweep_task"
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 3600


def test_invalid_photos_are_never_kept(cast, settings):
    big = Image.new("RGB", (200, 200))
    settings.ATTACHMENT_MAX_PIXELS = 100 * 100
    from io import BytesIO

    buf = BytesIO()
    big.save(buf, "JPEG")

    failed_report(login(cast.frontline), cast, photo("big.jpg", buf.getvalue()))

    assert kept_files(cast.frontline) == []
