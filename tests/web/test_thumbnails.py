"""Thumbnails made when a photo is stored: the phone pages' 96 px images load a small JPEG
without metadata, not the kept photo; the full view still gets the photo."""

from __future__ import annotations

from io import BytesIO

from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from tests.factories import report
from tests.web.conftest import login, photo
from workorders.models import Attachment


def camera_jpeg(size=(1600, 1200)) -> bytes:
    """A phone photo: large, noisy, with EXIF (camera and GPS)."""
    img = Image.effect_noise(size, 60).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0)}  # GPS
    buf = BytesIO()
    img.save(buf, format="JPEG", quality=92, exif=exif)
    return buf.getvalue()


def test_stored_photo_gets_a_small_thumbnail_without_metadata(cast):
    t = report(cast, attachments=[photo("door.jpg", camera_jpeg())])
    att = t.attachments.get()
    assert att.thumbnail
    with att.thumbnail.open("rb") as fh:
        data = fh.read()
    with Image.open(BytesIO(data)) as img:
        assert max(img.size) <= 240
        assert img.size == (240, 180)  # proportions kept
        assert not img.getexif()
        assert img.format == "JPEG"
    assert len(data) < att.size / 10  # the point: a fraction of the photo's bytes


def test_order_page_shows_the_thumbnail_and_links_the_photo(front, cast):
    t = report(cast, attachments=[photo("door.jpg", camera_jpeg())])
    att = t.attachments.get()
    html = front.get(reverse("web:order", args=[t.number])).content.decode()
    thumb_url = reverse("web:photo_thumb", args=[att.pk])
    assert f'<img src="{thumb_url}"' in html
    assert f'<a href="{reverse("web:photo", args=[att.pk])}">' in html
    small = front.get(thumb_url)
    full = front.get(reverse("web:photo", args=[att.pk]))
    assert small.status_code == 200 and small["Content-Type"] == "image/jpeg"
    small_bytes = b"".join(small.streaming_content)
    full_bytes = b"".join(full.streaming_content)
    assert len(small_bytes) < 30 * 1024 < len(full_bytes)
    with Image.open(BytesIO(full_bytes)) as img:
        assert img.size == (1600, 1200)  # the full view keeps the photo


def test_thumbnail_is_served_only_to_those_who_see_the_order(front, cast, client):
    t = report(cast, attachments=[photo("p.jpg")])
    url = reverse("web:photo_thumb", args=[t.attachments.get().pk])
    assert front.get(url).status_code == 200
    assert login(cast.other_frontline).get(url).status_code == 404
    assert client.get(url).status_code == 302


def test_backfill_command_makes_missing_thumbnails_once(front, cast):
    t = report(cast, attachments=[photo("old.jpg", camera_jpeg())])
    att = t.attachments.get()
    att.thumbnail.delete(save=True)  # as stored before thumbnails existed
    url = reverse("web:photo_thumb", args=[att.pk])
    before = b"".join(front.get(url).streaming_content)
    with Image.open(BytesIO(before)) as img:
        assert img.size == (1600, 1200)  # falls back to the photo meanwhile

    call_command("attachments_thumbnails")
    att.refresh_from_db()
    assert att.thumbnail
    name = att.thumbnail.name
    with Image.open(BytesIO(b"".join(front.get(url).streaming_content))) as img:
        assert max(img.size) <= 240

    call_command("attachments_thumbnails")  # again: nothing to do
    assert Attachment.objects.get(pk=att.pk).thumbnail.name == name
