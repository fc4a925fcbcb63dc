"""Export log and scheduled reports (日报/周报)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ExportKind(models.TextChoices):
    TICKETS = "tickets", pgettext_lazy("plural", "工单")
    TRANSITIONS = "transitions", pgettext_lazy("plural", "流转记录")


class ExportLog(models.Model):
    """One row per export: who, when, which filters, which format, how many rows."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("导出人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("导出时间"), db_index=True)
    kind = models.CharField(_("导出内容"), max_length=16, choices=ExportKind.choices)
    format = models.CharField(_("格式"), max_length=8, choices=ExportFormat.choices)
    filters = models.JSONField(_("筛选条件"), default=dict, blank=True)
    rows = models.PositiveIntegerField(_("行数"), default=0)
    completed = models.BooleanField(_("已完成"), default=False)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导出记录")
        verbose_name_plural = _("导出记录")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.format} · {self.rows}"


class ReportFrequency(models.TextChoices):
    DAILY = "daily", _("日报")
    WEEKLY = "weekly", _("周报")


class ReportRecipient(models.Model):
    """Who receives the daily or weekly report of a department (empty: the whole company)."""

    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("留空表示全公司报表"),
    )
    email = models.EmailField(_("邮箱"))
    frequency = models.CharField(_("频率"), max_length=8, choices=ReportFrequency.choices)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("报表收件人")
        verbose_name_plural = _("报表收件人")
        ordering = ["frequency", "department", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "email", "frequency"], name="report_recipient_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_frequency_display()})"


def report_file_path(instance: ReportFile, filename: str) -> str:
    return f"reports/{instance.frequency}/{filename}"


class ReportFile(models.Model):
    """A built daily/weekly workbook, kept for download from the report page."""

    frequency = models.CharField(_("频率"), max_length=8, choices=ReportFrequency.choices)
    period_start = models.DateField(_("周期开始"))
    period_end = models.DateField(_("周期结束"))
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Built for readers who may see customers' full phone numbers; otherwise masked. Only
    # those readers receive or download a full-number file.
    full_phone = models.BooleanField(_("含完整号码"), default=False)
    file = models.FileField(_("文件"), upload_to=report_file_path, max_length=200)
    rows = models.PositiveIntegerField(_("工单行数"), default=0)
    created_at = models.DateTimeField(_("生成时间"))
    emailed_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("定期报表")
        verbose_name_plural = _("定期报表")
        ordering = ["-period_start", "frequency", "department"]
        constraints = [
            models.UniqueConstraint(
                fields=["frequency", "period_start", "department", "full_phone"],
                name="report_file_unique",
            ),
            # NULLs are distinct in a unique index: the company-wide file (no department)
            # needs its own, or two runs could each store one.
            models.UniqueConstraint(
                fields=["frequency", "period_start", "full_phone"],
                condition=models.Q(department__isnull=True),
                name="report_file_unique_company",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} {self.period_start}"


class SubscriberCount(models.Model):
    """Reference data: subscribers per region and month, the denominator of 申诉率 (regulator
    complaints per million subscribers). Imported with `manage.py import_subscribers`."""

    region = models.CharField(_("地区"), max_length=32)
    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    subscribers = models.PositiveBigIntegerField(_("用户数"))

    class Meta:
        verbose_name = _("用户数")
        verbose_name_plural = _("用户数")
        ordering = ["-month", "region"]
        constraints = [
            models.UniqueConstraint(fields=["region", "month"], name="subscriber_region_month"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="subscriber_month_first"),
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.month:%Y-%m}: {self.subscribers}"


# --------------------------------------------------------------------------- KPI roll-up

# Net handling time histogram (P90 without sorting every closed order): bucket 0 holds
# [0, 60 s), bucket i holds [60·1.2^(i-1), 60·1.2^i), the last one everything above (~56 days).
KPI_NET_BUCKETS = 64
KPI_NET_FIRST_EDGE = 60.0
KPI_NET_RATIO = 1.2

# The counts the roll-up keeps (the order-anchored sources of reports/kpis.py), plus "rows":
# how many source rows fell in the cell (a group with rows but no count still shows).
KPI_ROLLUP_COUNTS = (
    "received",
    "repeats",
    "regulator",
    "regulator_escalated",
    "risk_alerted",
    "risk_then_regulator",
    "closed",
    "met_original",
    "met_effective",
    "missed_original",
    "missed_effective",
    "visits",
    "resolved",
    "satisfied",
    "first_time",
    "redone",
    "extended",
    "suspended",
    "visits_phone",
    "resolved_phone",
    "satisfied_phone",
    "visits_sms",
    "resolved_sms",
    "satisfied_sms",
    "visits_spot",
    "resolved_spot",
    "satisfied_spot",
    "dispatch_stopped",
    "dispatch_met",
    "sign_stopped",
    "sign_met",
    "dispatches",
    "returns",
    "returns_rejected",
    "rows",
)
KPI_HIST_FIELDS = tuple(f"h{i:02d}" for i in range(KPI_NET_BUCKETS))


KPI_STRIPES = 16
# What identifies a cell (and its stripe): the roll-up's writes and reads key by these.
KPI_CELL_KEYS = (
    "day",
    "department_id",
    "order_department_id",
    "category_id",
    "region",
    "urgency",
    "channel",
    "stripe",
)


class KpiDaily(models.Model):
    """The KPI counts of one local day and one cell (department × the order's department ×
    category × region × urgency × channel; 0 / "" stand for none), kept up to date by
    `reports.rollup` in the transaction that changes an order. Added to by upserts
    (`x = x + excluded.x`)."""

    day = models.DateField()
    department_id = models.BigIntegerField(default=0)
    # The department the order is with now (0: none). The same as `department_id` except for
    # the sign-for clocks, dispatches and returns counted against an earlier department: who
    # sees an order goes by its department now (`workorders.selectors.visibility_parts`), so
    # a lead's figures read the cells of his subtree's orders by this key.
    order_department_id = models.BigIntegerField(default=0)
    category_id = models.BigIntegerField(default=0)
    region = models.CharField(max_length=64, default="", blank=True)
    urgency = models.CharField(max_length=16, default="", blank=True)
    channel = models.CharField(max_length=16, default="", blank=True)
    # Orders are spread over KPI_STRIPES rows of each cell (by order id), so that reports of
    # the same day and kind committing at once do not queue on one row; readers sum them.
    stripe = models.SmallIntegerField(default=0)
    net_sum = models.FloatField(default=0.0)
    net_n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=list(KPI_CELL_KEYS), name="reports_kpidaily_cell_order_dept"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}/{self.category_id}"


for _name in (*KPI_ROLLUP_COUNTS, *KPI_HIST_FIELDS):
    KpiDaily.add_to_class(_name, models.BigIntegerField(default=0))


class KpiShare(models.Model):
    """What one order contributes to `KpiDaily` (cells and counts as JSON), so a change to
    the order subtracts exactly its old contribution and adds its new one."""

    ticket_id = models.BigIntegerField(primary_key=True)
    cells = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"KPI share of order {self.ticket_id}"


class KpiRollupState(models.Model):
    """One row once `kpi_rebuild` has built the roll-up from every order: only then do the
    report page and the KPI API read it (before, the figures are computed live)."""

    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"KPI roll-up built {self.built_at}"
