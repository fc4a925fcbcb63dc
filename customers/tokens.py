"""Status-link tokens. The token is an HMAC of the order and a random nonce under a key
derived from SECRET_KEY for this purpose alone, so it can be rebuilt for every message
without being stored; the database keeps only its SHA-256."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode

from django.conf import settings
from django.utils.crypto import salted_hmac

PURPOSE = "whistle.customers.status-link"
# 22 URL-safe base64 characters: 132 bits of the HMAC (the issue asks for at least 72).
LENGTH = 22
# Longer path segments are not tokens; they are still hashed and looked up (no shortcut).
MAX_PRESENTED = 64


def derive(ticket_pk: int, nonce: str, *, secret: str | None = None) -> str:
    mac = salted_hmac(PURPOSE, f"{ticket_pk}:{nonce}", secret=secret, algorithm="sha256")
    return urlsafe_b64encode(mac.digest()).decode("ascii")[:LENGTH]


def digest(token: str) -> str:
    return hashlib.sha256(token[:MAX_PRESENTED].encode("utf-8", "replace")).hexdigest()


def secrets_in_use() -> list[str]:
    """The current key first, then the fallbacks (links sent before a key rotation)."""
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
