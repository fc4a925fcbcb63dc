"""Who is knocking and what they are told once locked out. django-axes keeps the failed
logins (per username and address, see settings "security"); these are the project's answers to
its two questions: the client's address, and the response to a locked-out login."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def client_ip(request: HttpRequest) -> str:
    """The client's address: the socket's, or, behind PROXY_COUNT proxies, the address the
    outermost of them saw (the entry that many places from the right of X-Forwarded-For).
    Entries further left were written by the client and are ignored."""
    meta = request.META
    count = settings.PROXY_COUNT
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if count > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(count, len(hops))]
    return meta.get("REMOTE_ADDR", "")


def cooloff_seconds() -> int | None:
    """How long a lockout lasts, or None when only an administrator lifts it."""
    cooloff = settings.AXES_COOLOFF_TIME
    return int(cooloff.total_seconds()) if cooloff else None


def lockout_message() -> str:
    seconds = cooloff_seconds()
    if seconds is None:
        return _("从当前网络登录该账号失败次数过多，账号已被锁定。请联系管理员解锁。")
    minutes = max(1, round(seconds / 60))
    return ngettext(
        "从当前网络登录该账号失败次数过多，账号已被锁定 %(minutes)d 分钟。"
        "请稍后再试，或联系管理员解锁。",
        "从当前网络登录该账号失败次数过多，账号已被锁定 %(minutes)d 分钟。"
        "请稍后再试，或联系管理员解锁。",
        minutes,
    ) % {"minutes": minutes}


def is_locked_out(request) -> bool:
    """True when django-axes refused (or has just locked) this login attempt."""
    return bool(getattr(request, "axes_locked_out", False))


def login_failures_reset(request, username: str) -> None:
    """Forget the failed logins of this username from this address after it logged in (what
    AXES_RESET_ON_SUCCESS does for session logins, for logins that open no session)."""
    from axes.utils import reset

    reset(ip=client_ip(request), username=username)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE. The login forms (LockoutAwareLoginForm) already show the lockout
    message above the form, with the username kept: that page goes out as it is, as a 429.
    Any other page that reaches a lockout gets a short page that says the same."""
    if original_response is not None and original_response.status_code == 200:
        original_response.status_code = 429
        return original_response
    seconds = cooloff_seconds()
    response = render(
        request, "accounts/locked_out.html", {"message": lockout_message()}, status=429
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
