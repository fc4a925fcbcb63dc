"""Display helpers shared by the order admin, the dashboard and the templates."""

from __future__ import annotations

from datetime import timedelta

from django.utils.html import format_html
from django.utils.translation import gettext

from sla.display import duration_text
from sla.models import SlaStatus


def sla_badge_html(status: str | None, remaining: timedelta | None):
    """Green on track, amber at risk, red breached (with how long overdue)."""
    if not status:
        return format_html('<span class="sla-badge sla-none">{}</span>', "—")
    label = SlaStatus(status).label
    if status == SlaStatus.BREACHED and remaining is not None:
        text = gettext("已超时 %(t)s") % {"t": duration_text(remaining)}
    elif status in (SlaStatus.ON_TRACK, SlaStatus.AT_RISK) and remaining is not None:
        text = gettext("%(label)s · 剩 %(t)s") % {"label": label, "t": duration_text(remaining)}
    else:
        text = str(label)
    return format_html('<span class="sla-badge sla-{}">{}</span>', status, text)
