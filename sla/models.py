"""SLA clocks (DESIGN.md §4). A clock is a record; its due times are stored so breach status is
a query (`due_at < now` while running), right even when no background worker has run."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ClockKind(models.TextChoices):
    DISPATCH = "dispatch", _("派单时限")
    SIGN_FOR = "sign_for", _("签收时限")
    PROMISE = "promise", _("承诺时限")
    VISIT = "visit", _("回访时限")


class Outcome(models.TextChoices):
    MET = "met", _("按时")
    MISSED = "missed", _("超时")


class SlaStatus(models.TextChoices):
    ON_TRACK = "on_track", _("正常")
    AT_RISK = "at_risk", _("临期")
    BREACHED = "breached", _("已超时")
    MET = "met", _("按时完成")
    MISSED = "missed", _("超时完成")


class SlaPolicy(models.Model):
    """Target and thresholds for one clock kind at one urgency. Thresholds are percentages of
    the target: remind, chase (also the at-risk mark) and breach; after the breach, one more
    escalation level every `escalate_every_percent`."""

    kind = models.CharField(_("时限类型"), max_length=16, choices=ClockKind.choices)
    urgency = models.CharField(
        _("紧急程度"), max_length=8, choices=[("general", _("一般")), ("urgent", _("紧急"))]
    )
    target_minutes = models.PositiveIntegerField(_("时限(分钟)"))
    remind_percent = models.PositiveSmallIntegerField(_("提醒阈值%"), default=50)
    chase_percent = models.PositiveSmallIntegerField(_("催办阈值%"), default=80)
    escalate_every_percent = models.PositiveSmallIntegerField(_("超时后每隔%升级"), default=50)
    calendar = models.CharField(
        _("日历"), max_length=32, blank=True, help_text=_("留空表示自然时间 7×24")
    )

    class Meta:
        verbose_name = _("时限策略")
        verbose_name_plural = _("时限策略")
        constraints = [
            models.UniqueConstraint(fields=["kind", "urgency"], name="slapolicy_kind_urgency")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_urgency_display()} · {self.target}"

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
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(_("开始"))
    target_seconds = models.PositiveIntegerField(_("时限(秒)"))
    extended_seconds = models.PositiveIntegerField(_("延期(秒)"), default=0)
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

    def remaining_seconds(self, now) -> int | None:
        """Seconds left (negative: overdue); frozen while paused; None once stopped."""
        if not self.is_running:
            return None
        ref = self.paused_at or now
        return int((self.due_at - ref).total_seconds())


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
