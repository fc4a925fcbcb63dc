"""Request guards shared by every interface (API, phone pages, back office, reports).

- A NUL byte in the path or the query string is never a valid order number, filter value or
  search term, and PostgreSQL refuses it in any text parameter ("A string literal cannot contain
  NUL"), which turned `/orders/%00/` or `?state__exact=%00` into a 500. One check here answers
  400 before any lookup runs: the API's JSON error shape under /api/, the 400 page elsewhere.
  (Form and JSON fields are checked by Django's and DRF's own NUL validators.)
- A database or broker that cannot be reached while a view runs is a 503 with Retry-After, not
  the 500 page: JSON under /api/ (DRF views already answer it through api.errors; this covers
  the plain views there), a plain 503 page elsewhere.
"""

from __future__ import annotations

import logging

from django.core.exceptions import BadRequest
from django.http import HttpResponse
from django.template import loader

logger = logging.getLogger("whistle.unavailable")

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


class RejectNulMiddleware:
    """400 for a request whose path or query string carries a NUL byte."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            if _is_api(request):
                from api.errors import bad_request_response

                return bad_request_response()
            # Django's 400 handler renders templates/400.html (and logs to django.security).
            raise BadRequest("NUL byte in the request path or query string")
        return self.get_response(request)


class ServiceUnavailableMiddleware:
    """503 with Retry-After when a view fails because the database or broker is down."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from api.errors import RETRY_AFTER_SECONDS, UNAVAILABLE, unavailable_response

        if not isinstance(exception, UNAVAILABLE):
            return None
        logger.error("Service unavailable: %s %s: %r", request.method, request.path, exception)
        if _is_api(request):
            return unavailable_response()
        # No request context: its processors (the user, the unread count) need the database.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
