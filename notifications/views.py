"""Callbacks of the operator's SMS platform (no login; signed): delivery receipts and the
customers' replies. Thin: check the signature over the raw body, parse, call the channel.

Both take one JSON object or a list of them, answer 403 to a missing or wrong signature
(`X-Whistle-Signature: sha256=<HMAC-SHA256 of the body with SMS_CALLBACK_SECRET>`), 400 to
a body that is not what they expect, and are idempotent: the platform may repeat a call."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from workorders.errors import Invalid

from .services import SIGNATURE_HEADER, verify_signature
from .sms_channel import sms_inbound_receive, sms_receipt_record

_HEADER = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")


def _items(request):
    """The signed body's objects, or the error response."""
    secret = settings.SMS_CALLBACK_SECRET
    if not secret or not verify_signature(secret, request.body, request.META.get(_HEADER, "")):
        return None, JsonResponse({"error": "bad_signature"}, status=403)
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None, JsonResponse({"error": "invalid_json"}, status=400)
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        return None, JsonResponse({"error": "invalid_body"}, status=400)
    return items, None


def _at(value):
    at = parse_datetime(value) if isinstance(value, str) else None
    return at if at is not None and at.tzinfo is not None else None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


@csrf_exempt
@require_POST
def sms_receipt(request):
    """{"idempotency_key" | "message_id", "status": "delivered" | "failed", "error", "at"}"""
    items, error = _items(request)
    if error is not None:
        return error
    results = []
    for item in items:
        try:
            row = sms_receipt_record(
                key=_text(item.get("idempotency_key")),
                message_id=_text(item.get("message_id")),
                status=_text(item.get("status")),
                error=_text(item.get("error")),
                at=_at(item.get("at")),
            )
        except Invalid as exc:
            return JsonResponse({"error": "invalid", "fields": exc.fields}, status=400)
        results.append(
            {"found": False}
            if row is None
            else {"found": True, "key": row.key, "receipt": row.receipt_status}
        )
    if len(items) == 1 and not results[0]["found"]:
        return JsonResponse({"error": "unknown_message"}, status=404)
    return JsonResponse({"ok": True, "results": results})


@csrf_exempt
@require_POST
def sms_inbound(request):
    """{"id": the platform's message id, "from": the customer's number, "text", "at"}"""
    items, error = _items(request)
    if error is not None:
        return error
    results = []
    for item in items:
        try:
            inbound, recorded = sms_inbound_receive(
                provider_id=_text(item.get("id")),
                phone=_text(item.get("from")),
                text=_text(item.get("text")),
                now=_at(item.get("at")),
            )
        except Invalid as exc:
            return JsonResponse({"error": "invalid", "fields": exc.fields}, status=400)
        results.append({"id": inbound.provider_id, "new": recorded, "opt_out": inbound.opt_out})
    return JsonResponse({"ok": True, "results": results})
