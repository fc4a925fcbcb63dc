"""Photos on an order: type from the bytes, size, pixel count, storage without metadata."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import PurePosixPath

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from accounts.models import User

from ..errors import Invalid
from ..images import (
    CleanImage,
    TooManyPixels,
    Unreadable,
    clean_image,
    has_metadata,
    thumbnail,
)
from ..models import (
    Attachment,
    Ticket,
)

logger = logging.getLogger(__name__)

ALLOWED_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}


def _invalid(message: str) -> Invalid:
    return Invalid(fields={"attachments": [message]})


def validate_attachment(upload) -> str:
    """The file's real type (from its bytes, not its name) or a clear error. The picture is
    decoded here (within ATTACHMENT_MAX_PIXELS), so one that cannot be kept is refused before
    anything is stored; the cleaned photo is remembered on the upload for `_store_attachment`."""
    size = getattr(upload, "size", None) or 0
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise _invalid(
            _("“%(name)s”超过 %(mb)d MB，请压缩后再上传。")
            % {"name": upload.name, "mb": limit // (1024 * 1024)}
        )
    if size == 0:
        raise _invalid(_("“%(name)s”是空文件。") % {"name": upload.name})
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_IMAGE_TYPES:
        raise _invalid(
            _("“%(name)s”不是支持的图片格式（JPEG、PNG、WebP、HEIC）。") % {"name": upload.name}
        )
    _cleaned(upload, kind.mime)
    return kind.mime


def _cleaned(upload, mime: str) -> CleanImage:
    # Validation and storing see the same upload object within one service call: decode once.
    cached = getattr(upload, "_whistle_clean", None)
    if cached is not None:
        return cached
    max_pixels = settings.ATTACHMENT_MAX_PIXELS
    try:
        clean = clean_image(upload, mime, max_pixels=max_pixels)
    except TooManyPixels as exc:
        raise _invalid(
            _("“%(name)s”像素过大（最多 %(mp)d 百万像素），请缩小后再上传。")
            % {"name": upload.name, "mp": max_pixels // 1_000_000}
        ) from exc
    except Unreadable as exc:
        raise _invalid(
            _("“%(name)s”已损坏或无法读取，请重新选择。") % {"name": upload.name}
        ) from exc
    upload._whistle_clean = clean
    return clean


def _store_attachment(ticket: Ticket, by: User, upload, now: datetime) -> Attachment:
    mime = validate_attachment(upload)
    clean = _cleaned(upload, mime)
    original = (upload.name or "photo")[:200]
    stem = PurePosixPath(original).stem
    small = thumbnail(clean.content)
    return Attachment.objects.create(
        ticket=ticket,
        uploaded_by=by,
        file=ContentFile(clean.content, name=stem + clean.extension),
        thumbnail=ContentFile(small.content, name=stem + small.extension),
        original_name=original,
        content_type=clean.content_type,
        size=len(clean.content),
        created_at=now,
    )


def attachment_strip_metadata(*, attachment: Attachment) -> bool:
    """Re-encode a photo stored before photos were cleaned (upright, no EXIF/XMP/comments), as
    `_store_attachment` does now. False when there was nothing to do: the file is gone, already
    clean, not an image type Whistle keeps, or could not be decoded (left as it is)."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        return False
    with handle:
        kind = filetype.guess(handle.read(512))
        if kind is None or kind.mime not in ALLOWED_IMAGE_TYPES:
            return False
        if kind.mime not in ("image/heic", "image/heif") and not has_metadata(handle):
            return False  # already clean: do not lose quality to a second encoding
        try:
            clean = clean_image(handle, kind.mime, max_pixels=settings.ATTACHMENT_MAX_PIXELS)
        except (TooManyPixels, Unreadable):
            return False
    old_name = attachment.file.name
    attachment.file.save(
        PurePosixPath(attachment.original_name or "photo").stem + clean.extension,
        ContentFile(clean.content),
        save=False,
    )
    attachment.content_type = clean.content_type
    attachment.size = len(clean.content)
    attachment.save(update_fields=["file", "content_type", "size"])
    attachment.file.storage.delete(old_name)
    attachment_make_thumbnail(attachment=attachment, force=True)
    return True


def attachment_make_thumbnail(*, attachment: Attachment, force: bool = False) -> bool:
    """Make the small JPEG of a photo stored before thumbnails were made (as
    `_store_attachment` does now). False when there was nothing to do: it has one already
    (unless `force`), the file is gone, or it cannot be decoded (lists then show the photo)."""
    if attachment.thumbnail and not force:
        return False
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        return False
    with handle:
        content = handle.read()
    try:
        small = thumbnail(content)
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError) as exc:
        logger.warning("No thumbnail for attachment %s: %s", attachment.pk, exc)
        return False
    old = attachment.thumbnail.name if attachment.thumbnail else ""
    attachment.thumbnail.save(
        PurePosixPath(attachment.original_name or "photo").stem + small.extension,
        ContentFile(small.content),
        save=False,
    )
    attachment.save(update_fields=["thumbnail"])
    if old:
        attachment.thumbnail.storage.delete(old)
    return True
