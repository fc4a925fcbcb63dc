"""OpenAPI: every operation documents the error shape for the statuses the API can answer."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable code, e.g. invalid_state")
    message = serializers.CharField(help_text="Human-readable, in the request's language")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name → messages (for input errors; otherwise empty)",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_RESPONSES = {
    "400": "Bad input (validation, unparsable body, bad cursor)",
    "401": "Not authenticated",
    "403": "No right to this action",
    "404": "Not found, or outside what the user may see",
    "405": "Method not allowed",
    "409": "The order's state does not allow this, or someone else changed it first",
    "412": "If-Match does not match the current ETag",
    "413": "Request too large",
    "415": "Unsupported media type",
    "422": "Idempotency-Key reused with a different request; intake or customer look-up "
    "input that cannot be an order (unknown category code, another channel, not a phone)",
    "429": "Throttled; on the token login also: locked out after too many failures",
}


class WhistleAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in ERROR_RESPONSES.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code
                )
        return responses
