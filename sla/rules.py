"""The SLA rule matrix (DESIGN.md §11): which rule gives a clock its target.

A rule names a clock kind and any of urgency, channel, category or category group, and customer
tier (blank = any). Among the active rules of the kind that match the order, the most specific
wins: the one naming the most dimensions, and on a tie one naming a category beats one naming a
category group. Two active rules of equal specificity that could both match one order are
refused when saved (naming both), so the winner is never a coin toss. Every (kind, urgency)
keeps a fallback rule that names nothing else (today's targets), so some rule always matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from workorders.models import Urgency

from .models import ClockKind, SlaPolicy, Tier


@dataclass(frozen=True)
class Facts:
    """What rules match on, for one order."""

    urgency: str
    channel: str
    category_id: int | None
    group_id: int | None  # the category's parent, or the category itself when top-level
    tier: str


def tier_of(ticket) -> str:
    if (ticket.star_level or 0) >= 5:
        return Tier.VIP
    if ticket.is_elderly:
        return Tier.ELDERLY
    return ""


def calendar_id_for(*, kind: str, policy: SlaPolicy, department=None) -> int | None:
    """A sign-for clock counts the department's desk hours when it has a calendar; every
    other clock the rule's calendar (none: natural time)."""
    if kind == ClockKind.SIGN_FOR and department is not None:
        from .reference import department_calendar_id

        own = department_calendar_id(department.pk)
        if own:
            return own
    return policy.calendar_id


def specificity(rule: SlaPolicy) -> int:
    """Twice the number of dimensions named, plus one for a category (beats a group)."""
    named = sum(
        1
        for value in (
            rule.urgency,
            rule.channel,
            rule.category_id or rule.category_group_id,
            rule.tier,
        )
        if value
    )
    return 2 * named + (1 if rule.category_id else 0)


def matches(rule: SlaPolicy, facts: Facts) -> bool:
    return (
        (not rule.urgency or rule.urgency == facts.urgency)
        and (not rule.channel or rule.channel == facts.channel)
        and (not rule.category_id or rule.category_id == facts.category_id)
        and (not rule.category_group_id or rule.category_group_id == facts.group_id)
        and (not rule.tier or rule.tier == facts.tier)
    )


def candidates(rules: Iterable[SlaPolicy], kind: str, facts: Facts) -> list[SlaPolicy]:
    """The active rules of `kind` matching `facts`, winner first."""
    found = [r for r in rules if r.active and r.kind == kind and matches(r, facts)]
    found.sort(key=lambda r: (-r.specificity, r.pk or 0))
    return found


# ---------------------------------------------------------------------- validation


def _same_or_any(a, b) -> bool:
    return not a or not b or a == b


def _overlap(a: SlaPolicy, b: SlaPolicy, parent_of) -> bool:
    """Could one order match both rules? (Same kind assumed.)"""
    if not all(
        _same_or_any(getattr(a, f), getattr(b, f))
        for f in ("urgency", "channel", "category_id", "category_group_id", "tier")
    ):
        return False
    # A category and a group overlap only when the category lies in the group.
    for x, y in ((a, b), (b, a)):
        if x.category_id and y.category_group_id:
            cat = x.category_id
            if cat != y.category_group_id and parent_of(cat) != y.category_group_id:
                return False
    return True


def _parent_of(category_id: int) -> int | None:
    from .reference import category_parent

    return category_parent(category_id)


def validate_rule(rule: SlaPolicy) -> None:
    """Shape (category or group, sane thresholds), no overlap with an active rule of equal
    specificity, and every kind × urgency still has a fallback (the rule's own previous
    version does not count: saving retires it)."""
    if rule.category_id and rule.category_group_id:
        raise ValidationError(
            {"category_group": _("请只选择具体分类或分类组之一。")}, code="category_and_group"
        )
    if rule.category_group_id and _parent_of(rule.category_group_id) is not None:
        raise ValidationError(
            {"category_group": _("分类组须为一级分类。")}, code="group_not_top_level"
        )
    if rule.target_minutes is not None and rule.target_minutes <= 0:
        raise ValidationError({"target_minutes": _("时限须大于 0 分钟。")}, code="target")
    if (
        rule.remind_percent is not None
        and rule.chase_percent is not None
        and not 0 < rule.remind_percent < rule.chase_percent < 100
    ):
        raise ValidationError(
            {"chase_percent": _("阈值须满足 0 < 提醒 < 催办 < 100。")}, code="thresholds"
        )
    if rule.escalate_every_percent is not None and rule.escalate_every_percent <= 0:
        raise ValidationError(
            {"escalate_every_percent": _("升级间隔须大于 0。")}, code="escalate_every"
        )
    if not rule.kind:
        return
    mine = specificity(rule)
    others = list(SlaPolicy.objects.filter(active=True).exclude(lineage=rule.lineage))
    gaps = coverage_gaps([*others, rule])
    if gaps:
        raise coverage_error(gaps)
    for other in others:
        if other.kind != rule.kind:
            continue
        if specificity(other) == mine and _overlap(rule, other, _parent_of):
            raise ValidationError(
                _(
                    "规则“%(new)s”与现行规则“%(old)s”(#%(id)s)同样具体且可能同时适用于同一工单，"
                    "无法确定以哪条为准：请让其中一条更具体，或修改现行规则。"
                ),
                params={"new": rule_label(rule), "old": rule_label(other), "id": other.pk},
                code="overlap",
            )


def coverage_gaps(rules: Iterable[SlaPolicy]) -> list[tuple[str, str]]:
    """(kind, urgency) pairs that no active fallback rule (naming at most the urgency) covers."""
    covered = {
        (r.kind, u)
        for r in rules
        if r.active and is_fallback(r)
        for u in ([r.urgency] if r.urgency else Urgency.values)
    }
    return [(k, u) for k in ClockKind.values for u in Urgency.values if (k, u) not in covered]


def coverage_error(gaps: list[tuple[str, str]]) -> ValidationError:
    kind, urgency = gaps[0]
    return ValidationError(
        _(
            "%(kind)s · %(urgency)s 将没有兜底规则(只限定时限类型和紧急程度的规则)："
            "请先为它另建一条兜底规则。"
        ),
        params={"kind": ClockKind(kind).label, "urgency": Urgency(urgency).label},
        code="no_fallback",
    )


# ---------------------------------------------------------------------- how rules read


def comma() -> str:
    return pgettext("list separator", "，")


def semicolon() -> str:
    return pgettext("list separator", "；")


def conditions(rule: SlaPolicy) -> list[str]:
    """The dimensions a rule names, as people read them ('渠道: 社交媒体')."""
    from .reference import category_name

    parts = []
    if rule.urgency:
        parts.append(gettext("紧急程度: %(v)s") % {"v": Urgency(rule.urgency).label})
    if rule.channel:
        parts.append(gettext("渠道: %(v)s") % {"v": rule.get_channel_display()})
    if rule.category_id:
        parts.append(gettext("分类: %(v)s") % {"v": category_name(rule.category_id)})
    if rule.category_group_id:
        parts.append(gettext("分类组: %(v)s") % {"v": category_name(rule.category_group_id)})
    if rule.tier:
        parts.append(gettext("客户: %(v)s") % {"v": Tier(rule.tier).label})
    return parts


def rule_label(rule: SlaPolicy) -> str:
    from .display import duration_text

    where = comma().join(conditions(rule)) or gettext("兜底")
    kind = ClockKind(rule.kind).label if rule.kind else "?"
    target = duration_text((rule.target_minutes or 0) * 60)
    return f"{kind} · {where} → {target}"


def is_fallback(rule: SlaPolicy) -> bool:
    """A fallback names nothing but the clock kind and (perhaps) the urgency."""
    return not (rule.channel or rule.category_id or rule.category_group_id or rule.tier)


def explain(rule: SlaPolicy, *, calendar_name: str = "", calendar_source: str = "") -> str:
    """Why a clock has its target: the rule version, what it matched, and the calendar."""
    where = comma().join(conditions(rule)) or gettext("任意工单")
    if is_fallback(rule):
        text = gettext("规则 #%(id)s v%(v)s：兜底规则(%(where)s；没有更具体的适用规则)")
    else:
        text = gettext("规则 #%(id)s v%(v)s：匹配 %(where)s(最具体的适用规则)")
    text %= {"id": rule.pk, "v": rule.version, "where": where}
    if calendar_name:
        text += semicolon() + (
            gettext("按%(source)s工作日历“%(name)s”计工作时间")
            % {"source": calendar_source, "name": calendar_name}
        )
    else:
        text += semicolon() + gettext("按自然时间计")
    if not rule.active:
        text += semicolon() + gettext("该规则已有新版本，新版本只用于之后开始的时限")
    return text


def mismatches(rule: SlaPolicy, facts: Facts) -> list[str]:
    """The dimensions a rule names that the order does not have (empty: it matches)."""
    out = []
    if rule.urgency and rule.urgency != facts.urgency:
        out.append(pgettext("rule dimension", "紧急程度"))
    if rule.channel and rule.channel != facts.channel:
        out.append(pgettext("rule dimension", "渠道"))
    if rule.category_id and rule.category_id != facts.category_id:
        out.append(pgettext("rule dimension", "分类"))
    if rule.category_group_id and rule.category_group_id != facts.group_id:
        out.append(pgettext("rule dimension", "分类组"))
    if rule.tier and rule.tier != facts.tier:
        out.append(pgettext("rule dimension", "客户等级"))
    return out
