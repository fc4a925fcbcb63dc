"""Mass faults (群障, DESIGN.md §10): one outage behind many complaints.

A fault groups open orders of one category group in one area. Its own transitions change the
state and same-row fields only; rights, audit rows, links, dispatching and replying the
children live in `services.py`. Children keep their own clocks and KPIs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from .permissions import acting_role


class FaultState(models.TextChoices):
    SUSPECTED = "suspected", _("疑似")
    CONFIRMED = "confirmed", _("已确认")
    RESOLVED = "resolved", _("已恢复")
    CLOSED = "closed", pgettext_lazy("fault", "已关闭")
    DISMISSED = "dismissed", _("已排除")


OPEN_FAULT_STATES = [FaultState.SUSPECTED, FaultState.CONFIRMED]
# States in which orders may be linked and unlinked.
LINKABLE_STATES = OPEN_FAULT_STATES


class LinkHow(models.TextChoices):
    AUTO = "auto", _("系统自动")
    SUGGESTED = "suggested", _("报单时提示")
    MANUAL = "manual", _("人工关联")


def _trans_perm(name: str):
    def check(instance: Fault, user) -> bool:
        return acting_role(user, name, instance) is not None

    check.__name__ = f"may_{name}"
    return check


class Fault(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(_("群障编号"), max_length=16, unique=True, editable=False)
    category = models.ForeignKey(
        "workorders.Category",
        verbose_name=_("问题分类"),
        on_delete=models.PROTECT,
        related_name="faults",
    )
    # Area: the district the orders share (`by_district`), and, when the orders carry GPS, the
    # centre of their reported locations and the radius that holds them.
    region = models.CharField(_("区域"), max_length=32, blank=True)
    by_district = models.BooleanField(_("按区域聚类"), default=False)
    center_lat = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    center_lng = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    radius_m = models.PositiveIntegerField(_("半径(米)"), null=True, blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("责任部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="faults",
    )
    state = FSMField(
        _("状态"),
        default=FaultState.SUSPECTED,
        choices=FaultState.choices,
        protected=True,
        db_index=True,
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    detected_at = models.DateTimeField(_("发现时间"), db_index=True)
    # Earliest and latest report among the orders ever linked (time to detect starts here).
    first_reported_at = models.DateTimeField(_("首张工单时间"), null=True, blank=True)
    last_reported_at = models.DateTimeField(_("最近工单时间"), null=True, blank=True)
    order_count = models.PositiveIntegerField(_("关联工单数"), default=0)

    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    dismissed_at = models.DateTimeField(_("排除时间"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("排除人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    dismiss_reason = models.CharField(_("排除原因"), max_length=500, blank=True)

    eta = models.DateTimeField(_("预计恢复时间"), null=True, blank=True)
    eta_version = models.PositiveIntegerField(default=0, editable=False)
    customer_message = models.TextField(_("客户告知内容"), blank=True)

    resolved_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("恢复确认人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    public_reply = models.TextField(_("统一答复"), blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("群障")
        verbose_name_plural = pgettext_lazy("plural", "群障")
        ordering = ["-detected_at", "-id"]
        indexes = [models.Index(fields=["state", "detected_at"], name="fault_state_detected")]
        permissions = [
            ("confirm_fault", "Can confirm or dismiss a mass fault"),
            ("link_fault", "Can link and unlink orders to a mass fault"),
            ("set_fault_eta", "Can set a mass fault's ETA and customer message"),
            ("resolve_fault", "Can resolve a mass fault (reply to its orders)"),
            ("close_fault", "Can close a mass fault"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_FAULT_STATES

    @property
    def can_link(self) -> bool:
        return self.state in LINKABLE_STATES

    @property
    def area_display(self) -> str:
        parts = []
        if self.region:
            parts.append(self.region)
        if self.center_lat is not None and self.center_lng is not None:
            parts.append(f"{self.center_lat:.4f},{self.center_lng:.4f} ±{self.radius_m or 0}m")
        return " · ".join(parts)

    # --- transitions (DESIGN.md §10). Same-row changes only. ---

    @transition(
        field=state,
        source=FaultState.SUSPECTED,
        target=FaultState.CONFIRMED,
        permission=_trans_perm("confirm"),
    )
    def confirm(self, *, department, by, now) -> None:
        self.department = department
        self.confirmed_at = now
        self.confirmed_by = by

    @transition(
        field=state,
        source=FaultState.SUSPECTED,
        target=FaultState.DISMISSED,
        permission=_trans_perm("dismiss"),
    )
    def dismiss(self, *, reason, by, now) -> None:
        self.dismiss_reason = reason
        self.dismissed_at = now
        self.dismissed_by = by

    @transition(
        field=state,
        source=FaultState.CONFIRMED,
        target=FaultState.RESOLVED,
        permission=_trans_perm("resolve"),
    )
    def resolve(self, *, public_reply, by, now) -> None:
        self.public_reply = public_reply
        self.resolved_at = now
        self.resolved_by = by

    @transition(
        field=state,
        source=FaultState.RESOLVED,
        target=FaultState.CLOSED,
        permission=_trans_perm("close"),
    )
    def close(self, *, now) -> None:
        self.closed_at = now


class FaultSequence(models.Model):
    """Per-day counter behind QZ+YYYYMMDD+NNNN; incremented with a row-locking UPDATE."""

    day = models.DateField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class FaultLink(models.Model):
    """An order belongs to a fault: who linked it, when and how; unlinking keeps the row
    (with who, when and why). An order has at most one active link."""

    fault = models.ForeignKey(Fault, on_delete=models.CASCADE, related_name="links")
    ticket = models.ForeignKey(
        "workorders.Ticket", on_delete=models.CASCADE, related_name="fault_links"
    )
    how = models.CharField(_("关联方式"), max_length=16, choices=LinkHow.choices)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("关联人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    linked_at = models.DateTimeField(_("关联时间"))
    unlinked_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    unlinked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("解除人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    unlink_reason = models.CharField(_("解除原因"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("群障关联")
        verbose_name_plural = _("群障关联")
        ordering = ["linked_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(unlinked_at__isnull=True),
                name="faultlink_one_active",
            )
        ]
        indexes = [models.Index(fields=["fault", "unlinked_at"], name="faultlink_fault")]

    def __str__(self) -> str:
        return f"{self.fault_id} ← {self.ticket_id}"

    @property
    def is_active(self) -> bool:
        return self.unlinked_at is None


class FaultAudit(models.Model):
    """One row per fault transition and per action on it (link, unlink, ETA): the record."""

    fault = models.ForeignKey(Fault, on_delete=models.CASCADE, related_name="audit")
    transition = models.CharField(_("动作"), max_length=32)
    source = models.CharField(_("原状态"), max_length=16, choices=FaultState.choices, blank=True)
    target = models.CharField(_("新状态"), max_length=16, choices=FaultState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_role = models.CharField(_("角色"), max_length=16)
    at = models.DateTimeField(_("时间"))
    comment = models.TextField(_("说明"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("群障流转记录")
        verbose_name_plural = _("群障流转记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["fault", "at"], name="faultaudit_fault_at")]

    def __str__(self) -> str:
        return f"{self.fault_id} {self.transition}"


class FaultNotice(models.Model):
    """The customer of a linked order must hear this version of the fault's ETA message:
    written in the same transaction as the change, at most one row per (order, ETA version)
    (a re-link or a repeated request adds nothing). The customer channel subscribes to
    `faults.events.FAULT_ETA_CHANGED` and sends one message per new row."""

    fault = models.ForeignKey(Fault, on_delete=models.CASCADE, related_name="notices")
    ticket = models.ForeignKey(
        "workorders.Ticket", on_delete=models.CASCADE, related_name="fault_notices"
    )
    eta_version = models.PositiveIntegerField()
    eta = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("群障客户告知")
        verbose_name_plural = _("群障客户告知")
        constraints = [
            models.UniqueConstraint(
                fields=["fault", "ticket", "eta_version"], name="faultnotice_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fault_id}/{self.ticket_id} v{self.eta_version}"
