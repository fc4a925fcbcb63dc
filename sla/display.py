"""How a span of time reads to people, in the active language: one function for the mobile
pages, the back office and the notifications, so a countdown reads the same everywhere.

A clock on a business calendar counts working time, and says so: "剩 3工作小时 (明天 10:30
到期)" — working hours, and the due moment in Asia/Shanghai local time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext


def _seconds(span: timedelta | float | int) -> int:
    seconds = span.total_seconds() if isinstance(span, timedelta) else float(span)
    return abs(int(seconds))


def duration_text(span: timedelta | float | int | None) -> str:
    """'2天3小时', '3小时12分钟', '12分钟' (absolute value; a part-minute counts as one)."""
    if span is None:
        return ""
    seconds = _seconds(span)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return gettext("%(d)d天%(h)d小时") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)d小时%(m)d分钟") % {"h": hours, "m": minutes}
    return gettext("%(m)d分钟") % {"m": max(minutes, 1) if seconds else 0}


def working_duration_text(span: timedelta | float | int | None) -> str:
    """Working time: '27工作小时', '3工作小时12分钟', '12工作分钟' (no days: a working day has no
    fixed length)."""
    if span is None:
        return ""
    seconds = _seconds(span)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours and minutes:
        return gettext("%(h)d工作小时%(m)d分钟") % {"h": hours, "m": minutes}
    if hours:
        return gettext("%(h)d工作小时") % {"h": hours}
    return gettext("%(m)d工作分钟") % {"m": max(minutes, 1) if seconds else 0}


def span_text(span: timedelta | float | int | None, *, working: bool = False) -> str:
    return working_duration_text(span) if working else duration_text(span)


def due_text(due_at: datetime, now: datetime | None = None) -> str:
    """The due moment as people say it, local time: '今天 18:00', '明天 10:30', '12月8日 09:00'."""
    now = timezone.localtime(now or timezone.now())
    due = timezone.localtime(due_at)
    days = (due.date() - now.date()).days
    hm = due.strftime("%H:%M")
    if days == 0:
        return pgettext("due day", "今天 %(t)s") % {"t": hm}
    if days == 1:
        return pgettext("due day", "明天 %(t)s") % {"t": hm}
    if days == -1:
        return pgettext("due day", "昨天 %(t)s") % {"t": hm}
    return f"{date_format(due, 'MONTH_DAY_FORMAT')} {hm}"


def remaining_text(
    remaining: timedelta | float | int | None,
    *,
    working: bool = False,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """'剩 3工作小时 (明天 10:30 到期)' / '已超时 2工作小时 (今天 09:00 到期)'; the due part only
    for working-time clocks, where the wall-clock moment is not obvious from the span."""
    if remaining is None:
        return ""
    seconds = remaining.total_seconds() if isinstance(remaining, timedelta) else remaining
    span = span_text(remaining, working=working)
    if seconds < 0:
        text = gettext("已超时 %(t)s") % {"t": span}
    else:
        text = gettext("剩 %(t)s") % {"t": span}
    if working and due_at is not None:
        text += " " + gettext("(%(due)s 到期)") % {"due": due_text(due_at, now)}
    return text
