"""Notification texts. Rendered once per event in every site language when the notification is
created: the inbox shows the language its reader uses now, the e-mail the recipient's saved
language (`User.language`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation

from sla.display import duration_text

SHANGHAI = ZoneInfo("Asia/Shanghai")

_translated: dict[tuple[str, str], str] = {}


def _(message: str) -> str:
    """gettext, memoised per language: a sweep renders thousands of these."""
    key = (translation.get_language() or "", message)
    try:
        return _translated[key]
    except KeyError:
        value = _translated[key] = translation.gettext(message)
        return value


def language_of(user) -> str:
    """The user's saved interface language (the site default when they have none)."""
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def in_every_language(render: Callable[[], tuple[str, str] | None]) -> dict | None:
    """{language: (title, body)} for every site language, so the inbox can show a
    notification in whatever language its reader uses now; None when `render` says there is
    nothing to send."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            text = render()
        if text is None:
            return None
        texts[code] = tuple(text)
    return texts


def local_time(value: datetime) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def due_sentence(*, number: str, clock_label: str, due_at: datetime, now: datetime) -> str:
    if due_at > now:
        return _("工单 %(number)s 的%(clock)s将于 %(due)s 到期，剩余 %(left)s。") % {
            "number": number,
            "clock": clock_label,
            "due": local_time(due_at),
            "left": duration_text(due_at - now),
        }
    return _("工单 %(number)s 的%(clock)s已于 %(due)s 到期，已超时 %(over)s。") % {
        "number": number,
        "clock": clock_label,
        "due": local_time(due_at),
        "over": duration_text(now - due_at),
    }


def sla_event_text(
    *,
    kind_label: str,
    number: str,
    clock_label: str,
    due_at: datetime,
    now: datetime,
    level: int,
    summary: str,
) -> tuple[str, str]:
    """(title, body) of a threshold notification: remind, chase, supervise or escalate."""
    title = _("【%(kind)s】工单 %(number)s · %(clock)s") % {
        "kind": kind_label,
        "number": number,
        "clock": clock_label,
    }
    lines = [due_sentence(number=number, clock_label=clock_label, due_at=due_at, now=now)]
    if level >= 4:
        lines.append(_("已升级至第 %(n)d 级。") % {"n": level - 2})
    if summary:
        lines.append(_("问题：%(summary)s") % {"summary": summary})
    return title, "\n".join(lines)


def promise_line(ticket, now: datetime) -> str:
    """The customer's promise clock: due time and time left/overdue, or how it ended."""
    clock = ticket.promise_clock
    if clock is None or clock.voided:
        return ""
    label = str(clock.get_kind_display())
    if clock.is_running:
        ref = clock.paused_at or now
        return due_sentence(number=ticket.number, clock_label=label, due_at=clock.due_at, now=ref)
    return _("工单 %(number)s 的%(clock)s（%(due)s 到期）：%(outcome)s。") % {
        "number": ticket.number,
        "clock": label,
        "due": local_time(clock.due_at),
        "outcome": str(clock.get_outcome_display()),
    }


def transition_text(*, transition: str, ticket, now: datetime) -> tuple[str, str] | None:
    """(title, body) for the reporter when their order moves on, or None."""
    number = ticket.number
    if transition in ("dispatch", "redispatch", "rule_return"):
        department = ticket.department.name if ticket.department_id else ""
        title = _("工单 %(number)s 已派单") % {"number": number}
        body = _("您上报的工单 %(number)s 已派往%(department)s处理。") % {
            "number": number,
            "department": department,
        }
    elif transition == "reply":
        title = _("工单 %(number)s 已回复") % {"number": number}
        body = _("您上报的工单 %(number)s 已回复，处理结果：%(result)s") % {
            "number": number,
            "result": ticket.reply_result,
        }
    elif transition == "close":
        title = _("工单 %(number)s 已办结") % {"number": number}
        body = _("您上报的工单 %(number)s 已办结（%(outcome)s）。") % {
            "number": number,
            "outcome": ticket.get_visit_outcome_display(),
        }
    else:
        return None
    line = promise_line(ticket, now)
    return title, f"{body}\n{line}" if line else body


def chase_text(*, ticket, by, note: str, now: datetime) -> tuple[str, str]:
    """(title, body) for the department's leads when someone chases (催办) an order."""
    number = ticket.number
    lines = [_("%(user)s 催办了工单 %(number)s。") % {"user": str(by), "number": number}]
    if note:
        lines.append(_("催办说明：%(note)s") % {"note": note})
    line = promise_line(ticket, now)
    if line:
        lines.append(line)
    return _("工单 %(number)s 被催办") % {"number": number}, "\n".join(lines)


def risk_text(*, ticket, score: int) -> tuple[str, str]:
    """(title, body) for the supervisors when an order's escalation risk crosses the line."""
    number = ticket.number
    title = _("越级投诉预警：工单 %(number)s") % {"number": number}
    body = _("工单 %(number)s 的越级风险评分已达 %(score)d 分，请关注。") % {
        "number": number,
        "score": score,
    }
    return title, body


def staff_text(*, what: str, ticket, now: datetime, by=None, note: str = "") -> tuple[str, str]:
    """(title, body) for the staff an order's change concerns (issue 16's notification policy):
    what needs them or changed their order."""
    number = ticket.number
    department = ticket.department.name if ticket.department_id else ""
    args = {"number": number, "department": department, "user": str(by) if by else ""}
    if what == "dispatched":
        title = _("工单 %(number)s 派往本部门") % args
        body = _("工单 %(number)s 已派往%(department)s，请签收。") % args
    elif what == "returned":
        title = _("工单 %(number)s 退单未成立") % args
        body = _("退单申请未成立，工单 %(number)s 仍由%(department)s处理，请签收。") % args
    elif what == "assigned":
        title = _("工单 %(number)s 指派给您") % args
        body = _("工单 %(number)s 已指派给您处理。") % args
    elif what == "reply_rejected":
        title = _("工单 %(number)s 回单被驳回") % args
        body = _("工单 %(number)s 的回单被驳回，请继续处理。") % args
    elif what == "redo":
        title = _("工单 %(number)s 需重办") % args
        body = _("工单 %(number)s 已确认重办，请重新处理。") % args
    elif what == "propose_redo":
        title = _("工单 %(number)s 申请重办") % args
        body = _("客户对工单 %(number)s 的处理不满意，已申请重办，请确认。") % args
    elif what == "closed":
        title = _("工单 %(number)s 已办结") % args
        body = _("您处理的工单 %(number)s 已办结（%(outcome)s）。") % {
            **args,
            "outcome": ticket.get_visit_outcome_display(),
        }
    elif what == "supervised":
        title = _("工单 %(number)s 被督办") % args
        body = _("%(user)s 督办了工单 %(number)s。") % args
    else:
        raise ValueError(what)
    lines = [body]
    if note:
        lines.append(_("说明：%(note)s") % {"note": note})
    line = promise_line(ticket, now)
    if line:
        lines.append(line)
    return title, "\n".join(lines)


def digest_text(*, day: str, queues: list[tuple[str, int]], past: list[tuple[str, int]]):
    """(title, body) of a user's daily digest: their queues now and the last day in their
    scope, for everything that did not notify them at once."""
    title = _("每日汇总 %(day)s") % {"day": day}
    lines = [_("当前待办：")]
    lines += [f"· {label!s}：{n}" for label, n in queues]
    lines.append(_("过去 24 小时："))
    lines += [f"· {label!s}：{n}" for label, n in past]
    return title, "\n".join(lines)
