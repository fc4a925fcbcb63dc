"""API tokens (DRF's authtoken, one per user) with a lifetime, and their revocation.

A token lives API_TOKEN_TTL_HOURS from the login that issued it. It is deleted when it is
found expired, when its user's password changes and when its user is deactivated (see
accounts.signals): a token is a password stand-in and must not outlive the password."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.lookups import RowLookup


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"
    default_detail = _("令牌已过期，请重新登录获取新令牌。")


def token_lifetime() -> timedelta | None:
    hours = settings.API_TOKEN_TTL_HOURS
    return timedelta(hours=hours) if hours > 0 else None


def token_expires_at(token: Token) -> datetime | None:
    lifetime = token_lifetime()
    return token.created + lifetime if lifetime else None


def token_is_expired(token: Token, *, now: datetime | None = None) -> bool:
    expires = token_expires_at(token)
    return expires is not None and (now or timezone.now()) >= expires


def token_issue(*, user, now: datetime | None = None) -> Token:
    """The user's token after a successful login: the current one while it is valid, else a
    new one (an expired token is never handed out again)."""
    with transaction.atomic():
        token = Token.objects.filter(user=user).first()
        if token is not None and token_is_expired(token, now=now):
            token.delete()
            token = None
        if token is None:
            token, _created = Token.objects.get_or_create(user=user)
    return token


def tokens_revoke(*, user) -> int:
    """Delete every token of the user; the number deleted."""
    deleted, _per_model = Token.objects.filter(user=user).delete()
    return deleted


TOKEN_WITH_USER = RowLookup(Token, "key", ("user", "user__department"))


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing (and deleting) a token past its lifetime."""

    def authenticate_credentials(self, key):
        # The user's department comes in the same query (every service reads it: the
        # reporter's department, a lead's scope). Refusals are DRF's own, with its messages.
        # Every request reads it, from the database (revocation holds at once): the statement
        # is written once per process (`RowLookup`), not compiled by the ORM each time.
        token = TOKEN_WITH_USER.get(key)
        if token is None or not token.user.is_active:
            return super().authenticate_credentials(key)
        user = token.user
        if token_is_expired(token):
            token.delete()
            raise TokenExpired()
        return user, token
