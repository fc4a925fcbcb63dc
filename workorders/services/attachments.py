"""Photos on an order: type from the bytes, size, storage."""

from __future__ import annotations

from datetime import datetime

import filetype
from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import User

from ..errors import Invalid
from ..models import (
    Attachment,
    Ticket,
)

ALLOWED_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}


def validate_attachment(upload) -> str:
    """The file's real type (from its bytes, not its name) or a clear error."""
    size = getattr(upload, "size", None) or 0
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise Invalid(
            fields={
                "attachments": [
                    _("“%(name)s”超过 %(mb)d MB，请压缩后再上传。")
                    % {"name": upload.name, "mb": limit // (1024 * 1024)}
                ]
            }
        )
    if size == 0:
        raise Invalid(fields={"attachments": [_("“%(name)s”是空文件。") % {"name": upload.name}]})
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_IMAGE_TYPES:
        raise Invalid(
            fields={
                "attachments": [
                    _("“%(name)s”不是支持的图片格式（JPEG、PNG、WebP、HEIC）。")
                    % {"name": upload.name}
                ]
            }
        )
    return kind.mime


def _store_attachment(ticket: Ticket, by: User, upload, now: datetime) -> Attachment:
    mime = validate_attachment(upload)
    return Attachment.objects.create(
        ticket=ticket,
        uploaded_by=by,
        file=upload,
        original_name=(upload.name or "photo")[:200],
        content_type=mime,
        size=upload.size,
        created_at=now,
    )
