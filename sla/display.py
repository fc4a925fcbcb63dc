"""How a span of time reads to people, in the active language: one function for the mobile
pages, the back office and the notifications, so a countdown reads the same everywhere."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext


def duration_text(span: timedelta | float | int | None) -> str:
    """'2天3小时', '3小时12分钟', '12分钟' (absolute value; a part-minute counts as one)."""
    if span is None:
        return ""
    seconds = span.total_seconds() if isinstance(span, timedelta) else float(span)
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return gettext("%(d)d天%(h)d小时") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)d小时%(m)d分钟") % {"h": hours, "m": minutes}
    return gettext("%(m)d分钟") % {"m": max(minutes, 1) if seconds else 0}
