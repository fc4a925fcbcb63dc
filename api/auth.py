"""Token auth: POST username and password for a token; DELETE revokes it. Failed logins are
throttled per username and address and per address."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from .errors import InvalidCredentials
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
        "`Authorization: Token <token>`. Failed attempts are throttled.",
    )
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["username"]
        throttles = [LoginFailureThrottle("login"), LoginFailureThrottle("login_ip")]
        waits = [w for w in (t.blocked_for(request, username) for t in throttles) if w]
        if waits:
            raise Throttled(wait=max(waits))
        user = authenticate(request, username=username, password=form.validated_data["password"])
        if user is None or not user.is_active:
            for throttle in throttles:
                throttle.record_failure(request, username)
            raise InvalidCredentials()
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(
        operation_id="auth_token_revoke",
        tags=["auth"],
        request=None,
        responses={204: None},
        description="Revoke the caller's token.",
    )
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=204)
