"""The one way an order's photo leaves the server: through a view that has already checked the
user may see the order (`selectors.visible_attachment`), never as a static URL."""

from __future__ import annotations

from django.http import FileResponse, Http404

from .models import Attachment


def attachment_response(attachment: Attachment | None, *, thumbnail: bool = False) -> FileResponse:
    """The photo inline, cacheable by the user's browser only; 404 when it is gone. With
    `thumbnail`, its small JPEG (the photo itself for one stored before thumbnails)."""
    if attachment is None or not attachment.file:
        raise Http404
    small = thumbnail and bool(attachment.thumbnail)
    field = attachment.thumbnail if small else attachment.file
    try:
        handle = field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    content_type = "image/jpeg" if small else attachment.content_type
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=86400"
    return response
