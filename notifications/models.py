from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    REMIND = "remind", _("时限提醒")
    CHASE = "chase", _("催办")
    SUPERVISE = "supervise", _("督办")
    ESCALATE = "escalate", _("升级")
    DISPATCHED = "dispatched", _("已派单")
    REPLIED = "replied", _("已回复")
    CLOSED = "closed", _("已办结")
    USER_CHASE = "user_chase", _("人工催办")
    OTHER = "other", _("其他")


class Notification(models.Model):
    """An in-app notification. `key` makes delivery idempotent: one per event and recipient."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    ticket = models.ForeignKey(
        "workorders.Ticket",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("类型"), max_length=16, choices=NotificationKind.choices)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(_("时间"), db_index=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notif_inbox"),
        ]

    def __str__(self) -> str:
        return self.title
