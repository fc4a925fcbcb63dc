from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class NotificationKind(models.TextChoices):
    REMIND = "remind", _("时限提醒")
    CHASE = "chase", _("催办")
    SUPERVISE = "supervise", _("督办")
    ESCALATE = "escalate", _("升级")
    DISPATCHED = "dispatched", _("已派单")
    REPLIED = "replied", _("已回复")
    CLOSED = "closed", _("已办结")
    USER_CHASE = "user_chase", _("人工催办")
    FAULT = "fault", _("群障")
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
    # {language: [title, body]}: the same text in every site language, so the inbox shows it in
    # the language its reader uses now; `title` and `body` are the recipient's (the e-mail's).
    texts = models.JSONField(_("各语言文本"), default=dict, blank=True)
    key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(_("时间"), db_index=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    # Email channel: claimed (set) before sending, so a re-run task never mails twice.
    emailed_at = models.DateTimeField(_("邮件发送时间"), null=True, blank=True)
    email_error = models.CharField(_("邮件错误"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = pgettext_lazy("plural", "通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notif_inbox"),
        ]

    def __str__(self) -> str:
        return self.title

    def _shown(self) -> tuple[str, str]:
        language = translation.get_language() or ""
        text = self.texts.get(language) or self.texts.get(language.split("-")[0])
        return tuple(text) if text else (self.title, self.body)

    @property
    def shown_title(self) -> str:
        """The title in the active language (the stored one when that language is missing)."""
        return self._shown()[0]

    @property
    def shown_body(self) -> str:
        return self._shown()[1]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SUCCEEDED = "succeeded", _("已送达")
    FAILED = "failed", _("发送失败")


class WebhookEndpoint(models.Model):
    """A receiver of event webhooks: JSON POSTed and signed with HMAC-SHA256 of the body."""

    name = models.CharField(_("名称"), max_length=64)
    url = models.URLField(pgettext_lazy("webhook", "地址"), max_length=500)
    secret = models.CharField(_("签名密钥"), max_length=128)
    active = models.BooleanField(_("启用"), default=True)
    kinds = models.JSONField(
        _("事件类型"),
        default=list,
        blank=True,
        help_text=_('留空表示接收全部类型，例如 ["supervise", "escalate"]'),
    )

    class Meta:
        verbose_name = _("Webhook 接收端")
        verbose_name_plural = _("Webhook 接收端")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class WebhookDelivery(models.Model):
    """One event for one endpoint. `key` (event + endpoint) makes the delivery idempotent."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    key = models.CharField(max_length=160, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=NotificationKind.choices)
    ticket = models.ForeignKey(
        "workorders.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    payload = models.JSONField(_("内容"))
    status = models.CharField(
        _("状态"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("最近响应码"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("Webhook 投递")
        verbose_name_plural = _("Webhook 投递")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return self.key


class WebhookAttempt(models.Model):
    """Each try of a delivery, with what the receiver answered (or why it did not)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(_("时间"))
    status_code = models.PositiveSmallIntegerField(_("响应码"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)

    class Meta:
        verbose_name = _("Webhook 尝试")
        verbose_name_plural = _("Webhook 尝试")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
