"""Display helpers shared by the order admin, the dashboard and the templates."""

from __future__ import annotations

from datetime import timedelta

from django.utils.html import format_html
from django.utils.translation import gettext

from sla.models import SlaStatus


def format_duration(delta: timedelta) -> str:
    """'2天3小时', '5小时20分', '12分' (absolute value)."""
    seconds = abs(int(delta.total_seconds()))
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    if days:
        return gettext("%(d)d天%(h)d小时") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)d小时%(m)d分") % {"h": hours, "m": minutes}
    return gettext("%(m)d分") % {"m": minutes}


def sla_badge_html(status: str | None, remaining: timedelta | None):
    """Green on track, amber at risk, red breached (with how long overdue)."""
    if not status:
        return format_html('<span class="sla-badge sla-none">{}</span>', "—")
    label = SlaStatus(status).label
    if status == SlaStatus.BREACHED and remaining is not None:
        text = gettext("已超时 %(t)s") % {"t": format_duration(remaining)}
    elif status in (SlaStatus.ON_TRACK, SlaStatus.AT_RISK) and remaining is not None:
        text = gettext("%(label)s · 剩 %(t)s") % {"label": label, "t": format_duration(remaining)}
    else:
        text = str(label)
    return format_html('<span class="sla-badge sla-{}">{}</span>', status, text)
