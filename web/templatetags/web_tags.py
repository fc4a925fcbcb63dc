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


@register.filter
def epoch_ms(value) -> str:
    """A moment as milliseconds since 1970 (for the pages' scripts: no parsing of formats)."""
    return "" if not value else str(int(value.timestamp() * 1000))


@register.inclusion_tag("web/_countdown_words.html")
def countdown_words():
    """The words of a countdown for web/countdown.js, in the reader's language, from the same
    messages the server renders them with, and the server's clock to correct the phone's."""
    from django.utils import timezone
    from django.utils.translation import gettext

    return {
        "now": epoch_ms(timezone.now()),
        "left": gettext("剩余 %(t)s"),
        "over": gettext("已超时 %(t)s"),
        "dh": gettext("%(d)d天%(h)d小时"),
        "hm": gettext("%(h)d小时%(m)d分钟"),
        "m": gettext("%(m)d分钟"),
    }
