from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


def _seconds(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return int(value)


@register.filter
def overdue(value) -> bool:
    """True when a remaining time (timedelta or seconds) is negative."""
    s = _seconds(value)
    return s is not None and s < 0


@register.filter
def span(value) -> str:
    """A time span for people: 2天3小时, 3小时12分钟, 12分钟 (absolute value)."""
    s = _seconds(value)
    if s is None:
        return ""
    s = abs(s)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)d天%(h)d小时") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d小时%(m)d分钟") % {"h": hours, "m": minutes}
    return _("%(m)d分钟") % {"m": max(minutes, 1) if s else 0}
