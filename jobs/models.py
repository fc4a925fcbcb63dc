"""Bookkeeping of the background jobs (the SLA sweep, the scheduled reports): one row per job
name, read by the readiness check and the metrics. Knows nothing of the domain."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """The last run of one job. `running_since` is the run-once claim where PostgreSQL's
    advisory locks are not available (SQLite)."""

    name = models.CharField(_("任务"), max_length=64, unique=True)
    running_since = models.DateTimeField(_("运行开始"), null=True, blank=True)
    last_started_at = models.DateTimeField(_("最近开始"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("最近完成"), null=True, blank=True)
    last_duration_seconds = models.FloatField(_("最近耗时(秒)"), null=True, blank=True)
    last_failed_at = models.DateTimeField(_("最近失败"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=300, blank=True)
    runs = models.PositiveIntegerField(_("完成次数"), default=0)
    skipped = models.PositiveIntegerField(_("跳过次数"), default=0)
    last_skipped_at = models.DateTimeField(_("最近跳过"), null=True, blank=True)

    class Meta:
        verbose_name = _("任务运行记录")
        verbose_name_plural = _("任务运行记录")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
