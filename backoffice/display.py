"""Display helpers shared by the order admin, the dashboard and the templates."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.html import format_html
from django.utils.translation import gettext

from sla.display import due_text, span_text
from sla.models import SlaStatus


def sla_badge_html(
    status: str | None,
    remaining: timedelta | None,
    *,
    working: bool = False,
    due_at: datetime | None = None,
):
    """Green on track, amber at risk, red breached (with how long overdue). A working-time
    clock counts working hours and names its due moment: '剩 3工作小时 (明天 10:30 到期)'."""
    if not status:
        return format_html('<span class="sla-badge sla-none">{}</span>', "—")
    label = SlaStatus(status).label
    t = span_text(remaining, working=working) if remaining is not None else ""
    if working and due_at is not None and remaining is not None:
        t += " " + gettext("(%(due)s 到期)") % {"due": due_text(due_at)}
    if status == SlaStatus.BREACHED and remaining is not None:
        text = gettext("已超时 %(t)s") % {"t": t}
    elif status in (SlaStatus.ON_TRACK, SlaStatus.AT_RISK) and remaining is not None:
        text = gettext("%(label)s · 剩 %(t)s") % {"label": label, "t": t}
    else:
        text = str(label)
    return format_html('<span class="sla-badge sla-{}">{}</span>', status, text)
