"""SLA clocks (DESIGN.md §4, §11). A clock is a record; its due times are stored so breach
status is a query (`due_at < now` while running), right even when no background worker has run.

Rules (`SlaPolicy`) give the target by clock kind × urgency × channel × category (or group) ×
customer tier; the most specific matching rule wins (`sla.rules`). A rule is never changed in
place: an edit retires the version clocks point to and saves a new one, so an order keeps the
rule it started with. Business calendars (`Calendar`) make a clock count working time only."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from workorders.models import Channel, Urgency

from .calendars import WEEKDAYS, CalendarError, parse_hours, working_between


class ClockKind(models.TextChoices):
    DISPATCH = "dispatch", _("派单时限")
    SIGN_FOR = "sign_for", _("签收时限")
    PROMISE = "promise", _("承诺时限")
    VISIT = "visit", _("回访时限")
    # Online channels (online, app, social): from report to the first human response, which
    # is the dispatch (DESIGN.md §11).
    FIRST_RESPONSE = "first_response", _("首次响应时限")
    # Regulator complaints (监管申诉): the statutory limit, from the report on the regulator
    # channel or from the moment the order was marked 申诉; stops when it closes.
    REGULATOR = "regulator", _("监管申诉时限")


# Channels whose orders run a first-response clock.
FIRST_RESPONSE_CHANNELS = frozenset({Channel.ONLINE, Channel.APP, Channel.SOCIAL})


class Tier(models.TextChoices):
    """The customer's tier for rule matching: VIP (five stars) first, then elderly (65+)."""

    VIP = "vip", _("VIP(五星)")
    ELDERLY = "elderly", _("老年客户")


class Outcome(models.TextChoices):
    MET = "met", _("按时")
    MISSED = "missed", _("超时")


class SlaStatus(models.TextChoices):
    ON_TRACK = "on_track", _("正常")
    AT_RISK = "at_risk", _("临期")
    BREACHED = "breached", _("已超时")
    MET = "met", _("按时完成")
    MISSED = "missed", _("超时完成")


class Calendar(models.Model):
    """A business calendar: weekly working hours per weekday, plus holidays and make-up working
    days (`CalendarDay`). All times are Asia/Shanghai."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    hours_mon = models.CharField(_("周一"), max_length=100, blank=True)
    hours_tue = models.CharField(_("周二"), max_length=100, blank=True)
    hours_wed = models.CharField(_("周三"), max_length=100, blank=True)
    hours_thu = models.CharField(_("周四"), max_length=100, blank=True)
    hours_fri = models.CharField(_("周五"), max_length=100, blank=True)
    hours_sat = models.CharField(_("周六"), max_length=100, blank=True)
    hours_sun = models.CharField(_("周日"), max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = pgettext_lazy("plural", "工作日历")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def hours_fields(self) -> list[str]:
        return [f"hours_{d}" for d in WEEKDAYS]

    def weekly(self) -> tuple:
        """The weekly intervals (Monday first); raises CalendarError on unreadable text."""
        return tuple(parse_hours(getattr(self, f)) for f in self.hours_fields())

    def clean(self) -> None:
        errors: dict[str, list] = {}
        weekly = []
        for f in self.hours_fields():
            try:
                weekly.append(parse_hours(getattr(self, f)))
            except CalendarError as exc:
                errors[f] = [
                    ValidationError(
                        _("无法识别的工作时间“%(text)s”，请写成 08:00-21:00，多段用逗号分隔。"),
                        params={"text": str(exc)},
                        code="hours",
                    )
                ]
        if not errors and not any(weekly):
            raise ValidationError(
                _("日历没有任何工作时间：请至少为一天填写工作时间。"), code="empty"
            )
        if errors:
            raise ValidationError(errors)


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("节假日(休息)")
    WORKDAY = "workday", _("调休上班")


class CalendarDay(models.Model):
    """A date that differs from the weekly hours: a holiday (no working time) or a make-up
    working day (调休, worked as an ordinary weekday)."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("日期"))
    kind = models.CharField(_("类型"), max_length=8, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("节假日/调休")
        verbose_name_plural = pgettext_lazy("plural", "节假日/调休")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="calendarday_calendar_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()


class DepartmentCalendar(models.Model):
    """A department's desk hours: its sign-for clocks count this calendar's working time.
    (Kept here, not on accounts.Department: accounts is the lowest app and knows no SLA.)"""

    department = models.OneToOneField(
        "accounts.Department",
        verbose_name=_("部门"),
        on_delete=models.CASCADE,
        related_name="sla_calendar",
    )
    calendar = models.ForeignKey(
        Calendar, verbose_name=_("工作日历"), on_delete=models.PROTECT, related_name="departments"
    )

    class Meta:
        verbose_name = _("部门工作日历")
        verbose_name_plural = pgettext_lazy("plural", "部门工作日历")

    def __str__(self) -> str:
        return f"{self.department} · {self.calendar}"


class SlaPolicy(models.Model):
    """A rule of the SLA matrix: for clocks of one kind, the target, thresholds and calendar,
    for the orders matching every dimension it names (blank = any). Thresholds are percentages
    of the target: remind, chase (also the at-risk mark) and breach; after the breach, one more
    escalation level every `escalate_every_percent`.

    Versioned: `lineage` ties the versions of one rule; only the `active` one is matched."""

    kind = models.CharField(_("时限类型"), max_length=16, choices=ClockKind.choices)
    urgency = models.CharField(
        _("紧急程度"), max_length=8, choices=Urgency.choices, blank=True, help_text=_("留空=任意")
    )
    channel = models.CharField(
        _("受理渠道"), max_length=16, choices=Channel.choices, blank=True, help_text=_("留空=任意")
    )
    category = models.ForeignKey(
        "workorders.Category",
        verbose_name=_("问题分类"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("具体分类；与分类组二选一，留空=任意"),
    )
    category_group = models.ForeignKey(
        "workorders.Category",
        verbose_name=_("分类组"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"parent__isnull": True},
        help_text=_("一级分类：匹配其下所有分类"),
    )
    tier = models.CharField(
        _("客户等级"), max_length=8, choices=Tier.choices, blank=True, help_text=_("留空=任意")
    )
    target_minutes = models.PositiveIntegerField(_("时限(分钟)"))
    remind_percent = models.PositiveSmallIntegerField(_("提醒阈值%"), default=50)
    chase_percent = models.PositiveSmallIntegerField(_("催办阈值%"), default=80)
    escalate_every_percent = models.PositiveSmallIntegerField(_("超时后每隔%升级"), default=50)
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("工作日历"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text=_("留空表示自然时间 7×24"),
    )
    note = models.CharField(_("说明"), max_length=100, blank=True)
    # Versioning: an edit retires this row and saves a new one with the same lineage.
    lineage = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    active = models.BooleanField(_("生效"), default=True, editable=False)
    specificity = models.PositiveSmallIntegerField(_("具体度"), default=0, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    retired_at = models.DateTimeField(_("停用时间"), null=True, blank=True, editable=False)

    DIMENSIONS = ("urgency", "channel", "category", "category_group", "tier")

    class Meta:
        verbose_name = _("时限规则")
        verbose_name_plural = pgettext_lazy("plural", "时限规则")
        ordering = ["kind", "-active", "-specificity", "id"]
        indexes = [models.Index(fields=["kind", "active"], name="slapolicy_kind_active")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(category__isnull=True) | models.Q(category_group__isnull=True),
                name="slapolicy_category_or_group",
            )
        ]

    def __str__(self) -> str:
        from .rules import rule_label

        return rule_label(self)

    def save(self, *args, **kwargs) -> None:
        from .rules import specificity

        # Derived from the dimensions, stored for ordering the matrix.
        self.specificity = specificity(self)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from .rules import validate_rule

        validate_rule(self)

    @property
    def target(self) -> timedelta:
        return timedelta(minutes=self.target_minutes)

    def threshold_percent(self, level: int) -> int:
        """Level 1 remind, 2 chase, 3 breach (100 %), 4+ one escalation per further step."""
        if level == 1:
            return self.remind_percent
        if level == 2:
            return self.chase_percent
        return 100 + (level - 3) * self.escalate_every_percent


class Clock(models.Model):
    ticket = models.ForeignKey("workorders.Ticket", on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(_("时限类型"), max_length=16, choices=ClockKind.choices)
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The exact rule version the clock started under (kept when the rule is edited later).
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="+")
    # The calendar the clock counts in (the rule's, or for a sign-for clock the department's);
    # null: natural time. Snapshotted at start like the rule.
    calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("开始"))
    target_seconds = models.PositiveIntegerField(_("时限(秒)"))
    extended_seconds = models.PositiveIntegerField(_("延期(秒)"), default=0)
    # Working seconds when the clock has a calendar (a pause over a holiday adds nothing).
    paused_seconds = models.PositiveIntegerField(_("暂停累计(秒)"), default=0)
    paused_at = models.DateTimeField(_("暂停于"), null=True, blank=True)
    original_due_at = models.DateTimeField(_("原始时限"))
    due_at = models.DateTimeField(_("有效时限"), db_index=True)
    risk_at = models.DateTimeField(_("临期时刻"))
    stopped_at = models.DateTimeField(_("停止"), null=True, blank=True)
    outcome = models.CharField(_("结果"), max_length=8, choices=Outcome.choices, blank=True)
    outcome_original = models.CharField(
        _("结果(按原始时限)"), max_length=8, choices=Outcome.choices, blank=True
    )
    voided = models.BooleanField(pgettext_lazy("clock outcome", "作废"), default=False)
    # The next threshold instant and the last level recorded; the sweep reads by this.
    next_threshold_at = models.DateTimeField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(_("已触发级别"), default=0)

    class Meta:
        verbose_name = _("时限")
        verbose_name_plural = pgettext_lazy("plural", "时限")
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(
                fields=["next_threshold_at"],
                name="clock_next_threshold",
                condition=models.Q(next_threshold_at__isnull=False),
            ),
            models.Index(fields=["ticket", "kind"], name="clock_ticket_kind"),
            models.Index(fields=["kind", "stopped_at"], name="clock_kind_stopped"),
            # Reports (issue 7): 退单率's denominator counts sign-for clocks started in a period.
            models.Index(fields=["kind", "started_at"], name="clock_kind_started"),
            # Back office (issue 6): SLA-status filters over running clocks without a scan.
            models.Index(
                fields=["due_at", "risk_at"],
                name="clock_running_due",
                condition=models.Q(stopped_at__isnull=True, voided=False, paused_at__isnull=True),
            ),
            models.Index(
                fields=["paused_at"],
                name="clock_running_paused",
                condition=models.Q(stopped_at__isnull=True, voided=False, paused_at__isnull=False),
            ),
            # The KPI page's breached count (issue 17): running clocks by id with what decides
            # a breach, joined to the open orders' promise clocks without reading the table.
            models.Index(
                fields=["id", "due_at", "paused_at"],
                name="clock_running_ids",
                condition=models.Q(stopped_at__isnull=True, voided=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None and not self.voided

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def allowed_seconds(self) -> int:
        return self.target_seconds + self.extended_seconds

    def status(self, now) -> str | None:
        if self.voided:
            return None
        if self.outcome:
            return self.outcome
        ref = self.paused_at or now
        if self.due_at < ref:
            return SlaStatus.BREACHED
        if self.risk_at <= ref:
            return SlaStatus.AT_RISK
        return SlaStatus.ON_TRACK

    @property
    def counts_working_time(self) -> bool:
        return self.calendar_id is not None

    def remaining_seconds(self, now) -> int | None:
        """Seconds left (negative: overdue), in working time when the clock has a calendar;
        frozen while paused; None once stopped."""
        if not self.is_running:
            return None
        from .reference import calendar_of

        ref = self.paused_at or now
        return int(working_between(calendar_of(self.calendar_id), ref, self.due_at))


class EventKind(models.TextChoices):
    REMIND = "remind", _("提醒")
    CHASE = "chase", _("催办")
    SUPERVISE = "supervise", _("督办")
    ESCALATE = "escalate", _("升级")


class SlaEvent(models.Model):
    """A threshold of a clock that was crossed, recorded exactly once per (clock, level)."""

    clock = models.ForeignKey(Clock, on_delete=models.CASCADE, related_name="events")
    ticket = models.ForeignKey(
        "workorders.Ticket", on_delete=models.CASCADE, related_name="sla_events"
    )
    level = models.PositiveSmallIntegerField(_("级别"))
    kind = models.CharField(_("类型"), max_length=16, choices=EventKind.choices)
    threshold_at = models.DateTimeField(_("阈值时刻"))
    recorded_at = models.DateTimeField(_("记录时刻"))
    late = models.BooleanField(_("补记"), default=False)

    class Meta:
        verbose_name = _("时限事件")
        verbose_name_plural = _("时限事件")
        ordering = ["threshold_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clock", "level"], name="slaevent_clock_level")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} L{self.level}"
