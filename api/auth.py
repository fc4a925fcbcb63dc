"""Token auth: POST username and password for a token; DELETE revokes it. Failed logins are
throttled per username and address and per address (api.throttling), and count towards the
same lockout as the web and admin logins (django-axes). Tokens expire (accounts.tokens)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from accounts.lockout import is_locked_out, login_failures_reset
from accounts.tokens import token_expires_at, token_issue, tokens_revoke

from .errors import InvalidCredentials, LoginLockedOut
from .serializers import TokenRequestSerializer, TokenSerializer
from .throttling import LoginFailureThrottle


class TokenView(GenericAPIView):
    serializer_class = TokenRequestSerializer

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_authenticators(self):
        # Logging in must not trip over a stale session or token.
        if getattr(self, "request", None) is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        auth=[],
        request=TokenRequestSerializer,
        responses={200: TokenSerializer},
        description="Exchange a username and password for a token; send it as "
        "`Authorization: Token <token>` until `expires` (then log in again). Failed attempts "
        "are throttled, and too many for one username from one address lock that pair out.",
    )
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["username"]
        throttles = [LoginFailureThrottle("login"), LoginFailureThrottle("login_ip")]
        waits = [w for w in (t.take(request, username) for t in throttles) if w]
        if waits:
            raise Throttled(wait=max(waits))
        user = authenticate(request, username=username, password=form.validated_data["password"])
        if user is None or not user.is_active:
            if is_locked_out(request):
                raise LoginLockedOut()
            raise InvalidCredentials()
        for throttle in throttles:
            throttle.give_back(request, username)
        login_failures_reset(request, username)
        token = token_issue(user=user)
        return Response(
            TokenSerializer({"token": token.key, "expires": token_expires_at(token)}).data
        )

    @extend_schema(
        operation_id="auth_token_revoke",
        tags=["auth"],
        request=None,
        responses={204: None},
        description="Revoke the caller's token.",
    )
    def delete(self, request):
        tokens_revoke(user=request.user)
        return Response(status=204)
