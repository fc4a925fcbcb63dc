"""Throttles whose rates are read from settings.API_THROTTLE_RATES on every request (so they can
be changed by the environment and in tests), and a failed-login throttle that counts failures
only, per username and address and per address."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache as default_cache
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)


class UserThrottle(_SettingsRate, UserRateThrottle):
    scope = "user"


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    scope = "anon"


class LoginFailureThrottle(_SettingsRate, SimpleRateThrottle):
    """Blocks an address (and a username from that address) after too many failed logins.
    `allow_request` only reads the history; `record_failure` adds to it."""

    cache = default_cache

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def key_for(self, request, username: str) -> str:
        ident = self.get_ident(request)
        if self.scope == "login":
            name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
            ident = f"{ident}:{name}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def blocked_for(self, request, username: str) -> float | None:
        """Seconds to wait, or None when the request may go ahead."""
        if self.rate is None:
            return None
        self.key = self.key_for(request, username)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.wait() or 1
        return None

    def record_failure(self, request, username: str) -> None:
        if self.rate is None:
            return
        key = self.key_for(request, username)
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        history.insert(0, now)
        self.cache.set(key, history, self.duration)
