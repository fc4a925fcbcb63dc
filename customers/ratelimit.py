"""Requests per client address and minute on the status pages, counted in the default cache
(shared between processes when the cache is, e.g. Redis). A fixed one-minute window: `add`
then `incr` are atomic in Redis and in the local-memory cache. django-ratelimit refuses the
local-memory cache outright (its system check), which is the embedded default here."""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


def client_address(request) -> str:
    """REMOTE_ADDR, or with `STATUS_PAGE_PROXY_HOPS` = n trusted proxies in front, the n-th
    address from the right of X-Forwarded-For (the one our own proxy saw)."""
    hops = settings.STATUS_PAGE_PROXY_HOPS
    if hops > 0:
        chain = [
            p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()
        ]
        if len(chain) >= hops:
            return chain[-hops]
    return request.META.get("REMOTE_ADDR", "")


def over_limit(request) -> bool:
    """Count this request; True when the address has gone over the limit this minute. When
    the cache is down, nobody is limited (the page matters more than the limit)."""
    limit = settings.STATUS_PAGE_RATE_PER_MINUTE
    if limit <= 0:
        return False
    who = hashlib.sha256(client_address(request).encode()).hexdigest()[:24]
    key = f"customers:status-rate:{who}:{int(time.time() // 60)}"
    try:
        cache.add(key, 0, timeout=120)
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    except Exception:  # a cache outage must not take the page down
        log.warning("status page rate limit: cache unavailable", exc_info=True)
        return False
    return count > limit
