"""The one way an order's photo leaves the server: through a view that has already checked the
user may see the order (`selectors.visible_attachment`), never as a static URL."""

from __future__ import annotations

from django.http import FileResponse, Http404

from .models import Attachment


def attachment_response(attachment: Attachment | None) -> FileResponse:
    """The photo inline, cacheable by the user's browser only; 404 when it is gone."""
    if attachment is None or not attachment.file:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(
        handle, content_type=attachment.content_type or "application/octet-stream"
    )
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=86400"
    return response
