"""One error shape for every API response that is not a success:
`{"error": {"code": "...", "message": "...", "fields": {...}}}`, the message in the request's
language. Domain errors carry their own code and status (workorders.errors); DRF's and Django's
own exceptions are mapped here, and a database or broker that cannot be reached is a 503 with
Retry-After (the client should try again, nothing is wrong with its request). Anything else is a
bug and stays a 500."""

from __future__ import annotations

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerOperationalError
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from accounts.lockout import cooloff_seconds, lockout_message
from accounts.tokens import TokenExpired
from workorders.errors import DomainError


def error_body(code: str, message, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested error details as {"field": ["message", ...]} (nested paths dotted)."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list):
            if all(not isinstance(v, (dict, list)) for v in value):
                out.setdefault(prefix or "__all__", []).extend(str(v) for v in value)
            else:
                for i, item in enumerate(value):
                    if item:
                        walk(f"{prefix}.{i}" if prefix else str(i), item)
        else:
            out.setdefault(prefix or "__all__", []).append(str(value))

    walk("", detail)
    return {("__all__" if k == "non_field_errors" else k): v for k, v in out.items()}


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_credentials"

    def __init__(self):
        super().__init__(detail=_("用户名或密码错误。"))


class LoginLockedOut(exceptions.APIException):
    """Too many failed logins for this username from this address (django-axes)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self):
        super().__init__(detail=lockout_message())
        self.wait = cooloff_seconds()


class InvalidCursor(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_cursor"

    def __init__(self):
        super().__init__(detail=_("分页游标无效，请从第一页重新开始。"))


def _messages() -> dict[type, tuple[str, str]]:
    # Built per call so the messages are translated into the request's language.
    return {
        exceptions.ParseError: (
            "parse_error",
            _("请求内容无法解析：请发送 UTF-8 编码的合法 JSON。"),
        ),
        exceptions.NotAuthenticated: ("not_authenticated", _("请先登录或提供有效的令牌。")),
        exceptions.AuthenticationFailed: ("authentication_failed", _("身份认证失败，令牌无效。")),
        exceptions.PermissionDenied: ("forbidden", _("您无权执行此操作。")),
        exceptions.NotFound: ("not_found", _("未找到，或您无权查看。")),
        exceptions.UnsupportedMediaType: ("unsupported_media_type", _("不支持的请求内容类型。")),
    }


# Seconds a client should wait before trying again while the database or the broker is down.
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = (DatabaseOperationalError, InterfaceError, BrokerOperationalError)


def unavailable_body() -> dict:
    return error_body("unavailable", _("服务暂时不可用，请稍后再试。"))


def bad_request_body() -> dict:
    return error_body("bad_request", _("请求无效。"))


def unavailable_response() -> JsonResponse:
    """The API's 503 outside a DRF view (middleware)."""
    response = JsonResponse(unavailable_body(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request_response() -> JsonResponse:
    """The API's 400 outside a DRF view (middleware: NUL bytes in the path or query)."""
    return JsonResponse(bad_request_body(), status=400)


def exception_handler(exc, context):
    headers = {}
    if isinstance(exc, UNAVAILABLE):
        # Token lookup (authentication) runs inside the view's dispatch, so a database that is
        # down during authentication lands here too. Answer JSON even to a browser: the
        # browsable renderer would ask the database for the user again.
        request = context.get("request")
        if request is not None:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        set_rollback()
        return Response(
            unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, exc.fields), status=exc.http_status, headers=headers
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        set_rollback()
        return Response(
            error_body("too_large", _("请求内容过大。")),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    elif isinstance(exc, (SuspiciousOperation, BadRequest)):
        set_rollback()
        return Response(bad_request_body(), status=400)
    if not isinstance(exc, exceptions.APIException):
        return None

    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    fields: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        code, message = "invalid", _("输入有误，请检查后重试。")
        fields = _flatten(exc.detail)
    elif isinstance(exc, exceptions.Throttled):
        code = "throttled"
        message = (
            _("请求过于频繁，请 %(s)d 秒后再试。") % {"s": int(exc.wait)}
            if exc.wait
            else _("请求过于频繁，请稍后再试。")
        )
    elif isinstance(exc, TokenExpired):
        code, message = "token_expired", exc.detail
    else:
        for klass, (code_, message_) in _messages().items():
            if isinstance(exc, klass):
                code, message = code_, message_
                break
        else:
            # MethodNotAllowed, NotAcceptable and our own APIExceptions: DRF's (translated)
            # or our message.
            code = exc.default_code if isinstance(exc.default_code, str) else "error"
            message = exc.detail if not isinstance(exc.detail, (list, dict)) else exc.default_detail
    set_rollback()
    return Response(error_body(code, message, fields), status=exc.status_code, headers=headers)


def not_found(request, *args, **kwargs):
    """Any /api/ path that matches no endpoint: the API's 404 body, not the HTML page."""
    code, message = _messages()[exceptions.NotFound]
    return JsonResponse(error_body(code, message), status=404)
