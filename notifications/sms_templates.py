"""SMS texts as data: which variables each event's template may use and must use, how a
template is checked when it is saved, and how it is filled in.

A template is the operator's text with named variables, `{number}`; the platform knows it by
its code. A variable the event does not provide, or a missing status link, fails the
template's save (in the admin), never a send."""

from __future__ import annotations

import string
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from .models import SmsEvent

VARIABLES = {
    "number": gettext_lazy("工单号"),
    "category": gettext_lazy("问题分类"),
    "status_url": gettext_lazy("进度查询链接"),
    "promise_time": gettext_lazy("承诺答复时间"),
    "line": gettext_lazy("处理部门（专业线名称）"),
    "reason": gettext_lazy("挂起原因"),
    "resume_time": pgettext_lazy("suspension", "预计恢复时间"),
    "reply": gettext_lazy("答复客户的内容"),
    "survey_url": gettext_lazy("满意度评价链接"),
    "fault_message": gettext_lazy("群障说明（含预计恢复时间）"),
}

_ORDER = ("number", "category", "status_url")
# The variables each event provides.
EVENT_VARIABLES: dict[str, tuple[str, ...]] = {
    SmsEvent.ACCEPTED: (*_ORDER, "promise_time"),
    SmsEvent.DISPATCHED: (*_ORDER, "line", "promise_time"),
    SmsEvent.SUSPENDED: (*_ORDER, "reason", "resume_time"),
    SmsEvent.RESUMED: (*_ORDER, "promise_time"),
    SmsEvent.EXTENDED: (*_ORDER, "promise_time"),
    SmsEvent.REPLIED: (*_ORDER, "reply", "survey_url"),
    SmsEvent.CLOSED: _ORDER,
    SmsEvent.FAULT_ETA: (*_ORDER, "fault_message"),
    SmsEvent.OPT_OUT: (),
}
# Every message about an order carries its status link (the survey link is that page).
REQUIRED: dict[str, tuple[str, ...]] = {
    **{e: ("status_url",) for e in EVENT_VARIABLES},
    SmsEvent.REPLIED: ("survey_url",),
    SmsEvent.OPT_OUT: (),
}

# The shipped texts are data: migration 0009_sms_templates loads them.

# Sample values, to show how long a template's texts will be.
SAMPLE = {
    "number": "GD20261205000123",
    "category": "宽带故障",
    "status_url": "https://whistle.example.com/s/AbCdEfGhIjKlMnOpQrStUvWxYz012345/",
    "promise_time": "12月6日 14:30",
    "line": "网络线",
    "reason": "客户预约上门时间",
    "resume_time": "12月7日 09:00",
    "reply": "已更换光猫，网络恢复正常",
    "survey_url": "https://whistle.example.com/s/AbCdEfGhIjKlMnOpQrStUvWxYz012345/#survey",
    "fault_message": "您所在区域的宽带故障正在抢修，预计 12-06 18:00 恢复，敬请谅解。",
}


def template_variables(text: str) -> list[str]:
    """The variables a text uses, in order; ValueError for braces that do not pair."""
    return [name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None]


def template_check(event: str, text: str) -> None:
    """ValidationError (on `text`) unless every variable is one the event provides, written
    plainly (`{number}`), and the required ones are there."""
    allowed = EVENT_VARIABLES.get(event, ())
    listing = "、".join(f"{{{v}}}" for v in allowed) or "—"
    errors = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise ValidationError(
            {"text": _("花括号不成对：变量写作 {number} 这样的形式，其余文字不能含花括号。")}
        ) from None
    used = []
    for _lit, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            errors.append(
                _("变量 {%(name)s} 的写法不对：只能写变量名，如 {number}。") % {"name": name}
            )
        elif name not in allowed:
            errors.append(
                _("该事件没有变量 {%(name)s}。可用的变量：%(allowed)s")
                % {"name": name, "allowed": listing}
            )
        used.append(name)
    for name in REQUIRED.get(event, ()):
        if name not in used:
            errors.append(_("模板必须包含变量 {%(name)s}。") % {"name": name})
    if errors:
        raise ValidationError({"text": errors})


def template_render(text: str, params: dict) -> str:
    """The text with its variables filled in (the template was checked when it was saved)."""
    return text.format_map({k: params.get(k, "") for k in template_variables(text)})


def local_time_text(at: datetime | None) -> str:
    """12月6日 14:30 (Asia/Shanghai)."""
    if at is None:
        return ""
    t = timezone.localtime(at)
    return f"{t.month}月{t.day}日 {t:%H:%M}"
