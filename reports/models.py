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
