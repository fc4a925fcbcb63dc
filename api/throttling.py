"""Throttles whose rates are read from settings.API_THROTTLE_RATES on every request (so they can
be changed by the environment and in tests), and a failed-login throttle that counts failures
only, per username and address and per address.

Counters live in the default cache (CACHE_URL), which production shares between processes
(Redis), so every gunicorn worker sees the same counts. The client's address is
accounts.lockout.client_ip (the same one the login lockout uses). When the cache is
unreachable the throttles let requests through and log it: the login lockout (django-axes,
in the database) still guards passwords, and the API stays up."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache as default_cache
from redis.exceptions import RedisError
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from accounts.lockout import client_ip

logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError)


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            logger.warning("API throttle %s skipped: the cache is unreachable", self.scope)
            return True


class UserThrottle(_SettingsRate, UserRateThrottle):
    scope = "user"


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    scope = "anon"


class LoginFailureThrottle(_SettingsRate, SimpleRateThrottle):
    """Blocks an address (scope "login_ip"), or a username from that address (scope "login"),
    after too many failed logins within the rate's window (which starts at the first failure).

    A login attempt takes a slot with an atomic increment before the password is checked
    (`take`) and gives it back when the login succeeds (`give_back`): parallel guesses cannot
    all pass the check before any of them is counted, and successful logins do not count."""

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

    def take(self, request, username: str) -> float | None:
        """Count this attempt. Seconds to wait when it is over the limit, else None."""
        if self.rate is None:
            return None
        key = self.key_for(request, username)
        now = self.timer()
        try:
            count = self._increment(key, now)
            if count <= self.num_requests:
                return None
            since = self.cache.get(f"{key}:since") or now
        except CACHE_ERRORS:
            logger.warning("Login throttle %s skipped: the cache is unreachable", self.scope)
            return None
        return max(1.0, since + self.duration - now)

    def give_back(self, request, username: str) -> None:
        """Return the slot of an attempt that succeeded."""
        if self.rate is None:
            return
        try:
            self.cache.decr(self.key_for(request, username))
        except ValueError:
            pass  # the window ended meanwhile
        except CACHE_ERRORS:
            logger.warning("Login throttle %s skipped: the cache is unreachable", self.scope)

    def _increment(self, key: str, now: float) -> int:
        # add() creates the window only if there is none; incr() is atomic in Redis and in
        # the local-memory cache, and keeps the window's expiry.
        for _attempt in range(3):
            if self.cache.add(key, 1, self.duration):
                self.cache.set(f"{key}:since", now, self.duration)
                return 1
            try:
                return self.cache.incr(key)
            except ValueError:
                continue  # expired between add() and incr(): open a new window
        return self.num_requests + 1  # pragma: no cover - three expiries in a row
