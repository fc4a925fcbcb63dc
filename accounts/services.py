"""Writes to users that are not about orders."""

from __future__ import annotations

from django.conf import settings


def user_set_language(*, user, language: str) -> bool:
    """Remember the interface language a user picked, so what the system writes to them
    later (notifications, e-mail) is in that language too. False for an unknown code."""
    if language not in dict(settings.LANGUAGES):
        return False
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return True
