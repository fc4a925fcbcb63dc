from datetime import timedelta

from django import template

from sla.display import due_text, duration_text, working_duration_text

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
    return "" if s is None else duration_text(s)


@register.filter
def working_span(value) -> str:
    """Working time left on a business-calendar clock: 3工作小时12分钟."""
    s = _seconds(value)
    return "" if s is None else working_duration_text(s)


@register.filter
def due_day(value) -> str:
    """A due moment as people say it: 今天 18:00, 明天 10:30, 12月8日 09:00."""
    return "" if not value else due_text(value)
