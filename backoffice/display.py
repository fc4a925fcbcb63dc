"""Display helpers shared by the order admin, the dashboard and the templates."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.admin import helpers
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


def choice_label(choices, value) -> str:
    """`get_FOO_display()` without rebuilding the field's choices on every call (it does, for
    each row): the label in the active language, an unknown value as it is."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


class QuickActionCheckbox:
    """A changelist mixin: the action checkbox of each row written with one `format_html`
    instead of a form widget rendered through the template engine (about a third of a
    50-row page's rendering). The same markup as Django's: tests/backoffice/test_changelist.py
    compares them."""

    def action_checkbox(self, obj):
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(gettext("Select this object for an action - {}"), str(obj)),
        )
