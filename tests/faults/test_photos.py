"""Photos are kept as pixels only: upright, without EXIF (GPS position, camera make and model),
XMP or comments (reliability issue §6); and a picture too large to decode (a decompression bomb:
a 20000×20000 PNG of a few kilobytes) is refused before anything is stored or kept (§8)."""

from __future__ import annotations

import os
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, PngImagePlugin

from tests.api.conftest import client_for
from tests.factories import jpeg_bytes, ticket_in_state
from tests.web.conftest import login
from tests.web.test_report import URL as REPORT_URL
from tests.web.test_report import form_data
from workorders.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

RED, BLUE = (255, 0, 0), (0, 0, 255)


def exif_with_gps(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "WhistleCam"
    exif[ExifTags.Base.Model] = "Snoop 3000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 15.0, 7.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (120.0, 10.0, 3.0)
    return exif


def sideways_picture() -> Image.Image:
    """40×20 as the sensor stored it: red left half, blue right half. With EXIF orientation 6
    (turn 90° clockwise to show) it is 20×40, red on top."""
    img = Image.new("RGB", (40, 20), RED)
    img.paste(BLUE, (20, 0, 40, 20))
    return img


def phone_jpeg() -> bytes:
    buf = BytesIO()
    sideways_picture().save(buf, "JPEG", exif=exif_with_gps(), quality=95)
    data = buf.getvalue()
    # The test photo really carries what must go.
    source = Image.open(BytesIO(data)).getexif()
    assert source[ExifTags.Base.Orientation] == 6
    assert source.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert b"WhistleCam" in data
    return data


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid one-bit PNG of `width`×`height` black pixels: tens of kilobytes on the wire,
    gigabytes once decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row * 100) for _ in range(height // 100)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_no_metadata(data: bytes) -> Image.Image:
    img = Image.open(BytesIO(data))
    assert not img.getexif(), dict(img.getexif())
    assert "exif" not in img.info and "xmp" not in img.info and "comment" not in img.info
    for secret in (b"WhistleCam", b"Snoop 3000", b"Exif\x00\x00"):
        assert secret not in data
    return img


def assert_upright(img: Image.Image) -> None:
    assert img.size == (20, 40)
    rgb = img.convert("RGB")
    top, bottom = rgb.getpixel((10, 5)), rgb.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60, top  # red on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom  # blue below


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type)


# --------------------------------------------------------------------------- metadata


def test_api_photo_is_stored_and_served_upright_without_exif(cast, settings):
    t = ticket_in_state(cast, "dispatched")
    api = client_for(cast.frontline)

    response = api.post(
        f"/api/v1/tickets/{t.number}/attachments/", {"files": [upload("门口.jpg", phone_jpeg())]}
    )

    assert response.status_code == 201, response.content
    (photo,) = response.json()
    stored = Attachment.objects.get(pk=photo["id"])
    assert stored.content_type == "image/jpeg" and stored.original_name == "门口.jpg"
    with stored.file.open("rb") as f:
        kept = f.read()
    assert stored.size == len(kept)
    assert_upright(assert_no_metadata(kept))
    served = b"".join(api.get(photo["url"]).streaming_content)
    assert served == kept


def test_phone_report_photo_is_stored_upright_without_exif(cast):
    phone = login(cast.frontline)

    response = phone.post(
        REPORT_URL, {**form_data(cast), "photos": [upload("现场.jpg", phone_jpeg())]}
    )

    assert response.status_code == 302, response.content[:500]
    attachment = Ticket.objects.get().attachments.get()
    with attachment.file.open("rb") as f:
        assert_upright(assert_no_metadata(f.read()))


def test_photo_kept_for_a_retry_is_stripped_when_the_order_is_made(cast):
    phone = login(cast.frontline)
    failed = phone.post(
        REPORT_URL,
        {**form_data(cast, customer_phone="1"), "photos": [upload("a.jpg", phone_jpeg())]},
    )
    key = failed.context["form"]["form_key"].value()

    phone.post(REPORT_URL, form_data(cast, form_key=key))

    with Ticket.objects.get().attachments.get().file.open("rb") as f:
        assert_upright(assert_no_metadata(f.read()))


def test_png_text_and_exif_chunks_are_dropped(cast):
    t = ticket_in_state(cast, "dispatched")
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "WhistleCam at 30.25N 120.17E")
    buf = BytesIO()
    sideways_picture().save(buf, "PNG", pnginfo=info, exif=exif_with_gps())

    response = client_for(cast.frontline).post(
        f"/api/v1/tickets/{t.number}/attachments/",
        {"files": [upload("屏幕.png", buf.getvalue(), "image/png")]},
    )

    assert response.status_code == 201, response.content
    stored = Attachment.objects.get()
    assert stored.content_type == "image/png"
    with stored.file.open("rb") as f:
        img = assert_no_metadata(f.read())
    assert not img.text
    assert_upright(img)


def test_heic_photo_is_kept_as_jpeg_without_exif(cast):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = BytesIO()
    sideways_picture().save(buf, "HEIF", exif=exif_with_gps().tobytes(), quality=90)
    t = ticket_in_state(cast, "dispatched")

    response = client_for(cast.frontline).post(
        f"/api/v1/tickets/{t.number}/attachments/",
        {"files": [upload("IMG_0001.HEIC", buf.getvalue(), "image/heic")]},
    )

    assert response.status_code == 201, response.content
    stored = Attachment.objects.get()
    assert stored.content_type == "image/jpeg"
    assert stored.file.name.endswith(".jpg") and stored.original_name == "IMG_0001.HEIC"
    with stored.file.open("rb") as f:
        img = assert_no_metadata(f.read())
    assert img.format == "JPEG"
    assert_upright(img)


# --------------------------------------------------------------------------- pixel count


def test_pillow_limit_is_set_deliberately_to_the_photo_limit(settings):
    assert settings.ATTACHMENT_MAX_PIXELS == 40_000_000
    assert Image.MAX_IMAGE_PIXELS == 40_000_000


# Pillow warns (DecompressionBombWarning) on opening the 48 MP one; the photo check refuses it.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "size",
    [
        (20000, 20000),  # 400 MP: Pillow's DecompressionBombError
        (8000, 6000),  # 48 MP: over the limit, under twice it (Pillow would only warn)
    ],
)
def test_api_decompression_bomb_is_a_400_and_nothing_is_stored(cast, settings, size):
    t = ticket_in_state(cast, "dispatched")
    bomb = bomb_png(*size)
    assert len(bomb) < 200_000  # small on the wire

    response = client_for(cast.frontline).post(
        f"/api/v1/tickets/{t.number}/attachments/",
        {"files": [upload("bomb.png", bomb, "image/png")]},
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "像素过大" in error["fields"]["attachments"][0]
    assert not Attachment.objects.exists()
    assert media_files(settings) == []


def test_phone_report_with_a_decompression_bomb_is_a_form_error_and_nothing_is_kept(cast, settings):
    phone = login(cast.frontline)

    response = phone.post(
        REPORT_URL,
        {**form_data(cast), "photos": [upload("bomb.png", bomb_png(), "image/png")]},
    )

    assert response.status_code == 400
    assert "bomb.png" in response.content.decode()
    assert "像素过大" in response.content.decode()
    form = response.context["form"]
    assert form.kept == []
    assert form.data["customer_name"] == "张三"  # nothing typed is lost
    assert not Ticket.objects.exists()
    assert [p for p in media_files(settings) if p.name != "manifest.json"] == []


def test_the_pixel_limit_is_the_setting(cast, settings):
    settings.ATTACHMENT_MAX_PIXELS = 10_000
    t = ticket_in_state(cast, "dispatched")
    api = client_for(cast.frontline)

    def send(width, height):
        buf = BytesIO()
        Image.new("RGB", (width, height), RED).save(buf, "JPEG")
        return api.post(
            f"/api/v1/tickets/{t.number}/attachments/",
            {"files": [upload("p.jpg", buf.getvalue())]},
        )

    assert send(101, 100).status_code == 400
    assert send(100, 100).status_code == 201


def test_truncated_photo_is_refused_as_unreadable(cast, settings):
    t = ticket_in_state(cast, "dispatched")
    data = jpeg_bytes()

    response = client_for(cast.frontline).post(
        f"/api/v1/tickets/{t.number}/attachments/",
        {"files": [upload("half.jpg", data[: len(data) // 2])]},
    )

    assert response.status_code == 400
    assert "已损坏或无法读取" in response.json()["error"]["fields"]["attachments"][0]
    assert media_files(settings) == []


def test_photos_stored_before_cleaning_are_stripped_by_the_command(cast):
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.utils import timezone

    t = ticket_in_state(cast, "dispatched")
    old = Attachment.objects.create(
        ticket=t,
        uploaded_by=cast.frontline,
        file=ContentFile(phone_jpeg(), name="old.jpg"),
        original_name="old.jpg",
        content_type="image/jpeg",
        size=1,
        created_at=timezone.now(),
    )
    old_path = Path(old.file.path)
    clean = client_for(cast.frontline).post(
        f"/api/v1/tickets/{t.number}/attachments/", {"files": [upload("new.jpg", phone_jpeg())]}
    )
    new = Attachment.objects.get(pk=clean.json()[0]["id"])
    new_name = new.file.name

    call_command("attachments_strip_metadata", stdout=open(os.devnull, "w"))  # noqa: SIM115

    old.refresh_from_db()
    with old.file.open("rb") as f:
        data = f.read()
    assert_upright(assert_no_metadata(data))
    assert old.size == len(data) and not old_path.exists()
    new.refresh_from_db()
    assert new.file.name == new_name  # already clean: not encoded a second time
