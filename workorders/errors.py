"""Domain errors. Every interface maps these the same way: API → HTTP status and error shape,
admin and web views → a message. Messages are lazy so they render in the user's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    http_status = 400
    default_message = _("操作失败。")

    def __init__(self, message=None, *, fields: dict | None = None):
        self.message = message if message is not None else self.default_message
        self.fields = fields or {}
        super().__init__(str(self.message))


class NotAllowed(DomainError):
    """The user has no right to this action on this order."""

    code = "forbidden"
    http_status = 403
    default_message = _("您无权执行此操作。")


class InvalidState(DomainError):
    """The order's state does not allow this transition."""

    code = "invalid_state"
    http_status = 409
    default_message = _("工单当前状态不允许此操作。")


class Conflict(DomainError):
    """Someone else changed the order first."""

    code = "conflict"
    http_status = 409
    default_message = _("工单已被他人更新，请刷新后重试。")


class Stale(Conflict):
    """The version the user saw (a form's hidden field, the API's If-Match) is not the order's
    version any more: someone changed it since. 412 in the API (a failed If-Match)."""

    code = "stale"
    http_status = 412
    default_message = _("工单已被更新，您看到的版本已过期，请刷新后重试。")


class IdempotencyMismatch(DomainError):
    code = "idempotency_mismatch"
    http_status = 422
    default_message = _("同一个幂等键已用于不同的请求内容。")


class Invalid(DomainError):
    """Bad input; `fields` maps field names to messages."""

    code = "invalid"
    http_status = 400
    default_message = _("输入有误，请检查后重试。")

    @classmethod
    def from_django(cls, exc) -> Invalid:
        fields = {}
        if hasattr(exc, "message_dict"):
            fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        else:
            fields = {"__all__": [str(m) for m in exc.messages]}
        return cls(fields=fields)


class Unprocessable(Invalid):
    """Well-formed input a channel system sent that cannot be an order (unknown category code,
    another channel's order, not a phone number): 422, so the system knows not to retry."""

    http_status = 422


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = 429
    default_message = _("操作过于频繁，请稍后再试。")
