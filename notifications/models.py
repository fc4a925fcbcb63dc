from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.copies import ReferenceQuerySet


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
    RISK = "risk", _("越级预警")
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
    # Its e-mail, if any, is a `Delivery` (channel email) with the same key.

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


class Channel(models.TextChoices):
    """How a delivery leaves Whistle. Each channel has one sender (`notifications.outbox`)."""

    EMAIL = "email", _("邮件")
    WEBHOOK = "webhook", "Webhook"
    SMS = "sms", _("短信")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    # A rule said never (the customer opted out, the day's cap for the number): not sent.
    SKIPPED = "skipped", _("未发送")


class ReceiptStatus(models.TextChoices):
    """What the SMS platform's delivery receipt said."""

    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("未送达")


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


class Delivery(models.Model):
    """The outbox: one message to send on one channel, written in the same transaction as the
    change that causes it and sent afterwards by the relay (`notifications.outbox`).

    `key` is the idempotency key, unique per channel and sent to the receiver with every
    attempt (webhook header `X-Whistle-Delivery`, e-mail `Message-ID`), because a delivery is
    sent at least once: a worker killed between sending and recording sends it again.
    A pending row is due at `next_attempt_at`; claiming it moves that instant to the end of
    the claim's lease, so a claim that dies with its worker falls due again by itself."""

    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    key = models.CharField(_("幂等键"), max_length=200)
    # The notification kind, or the channel's own event name.
    kind = models.CharField(_("类型"), max_length=32)
    ticket = models.ForeignKey(
        "workorders.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("收件人"),
    )
    # E-mail address or phone number (webhooks go to the endpoint's current URL).
    address = models.CharField(_("发往"), max_length=254, blank=True)
    endpoint = models.ForeignKey(
        "WebhookEndpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("Webhook 接收端"),
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
    sent_at = models.DateTimeField(pgettext_lazy("delivery", "发送时间"), null=True, blank=True)
    # SMS only: parts the text takes, the platform's id of it, its delivery receipt.
    segments = models.PositiveSmallIntegerField(_("短信条数"), null=True, blank=True)
    provider_message_id = models.CharField(_("平台消息编号"), max_length=64, blank=True)
    receipt_status = models.CharField(
        _("回执"), max_length=16, choices=ReceiptStatus.choices, blank=True
    )
    receipt_at = models.DateTimeField(_("回执时间"), null=True, blank=True)
    receipt_error = models.CharField(_("回执错误"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("投递")
        verbose_name_plural = pgettext_lazy("plural", "投递")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="delivery_channel_key"),
        ]
        indexes = [
            # What the relay reads: due pending rows only (sent rows pile up, this stays small).
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["created_at"], name="delivery_failed", condition=models.Q(status="failed")
            ),
            # Receipts name the text by the platform's id.
            models.Index(
                fields=["provider_message_id"],
                name="delivery_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.key}"


class DeliveryAttempt(models.Model):
    """Each try of a delivery, with what the receiver answered (or why it did not)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(_("时间"))
    status_code = models.PositiveSmallIntegerField(_("响应码"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)

    class Meta:
        verbose_name = _("投递尝试")
        verbose_name_plural = pgettext_lazy("plural", "投递尝试")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"


# --------------------------------------------------------------------------- SMS to customers


class SmsEvent(models.TextChoices):
    """What a customer's text is about (DESIGN.md §9), and the opt-out confirmation."""

    ACCEPTED = "accepted", pgettext_lazy("sms", "已受理")
    DISPATCHED = "dispatched", pgettext_lazy("sms", "已派单")
    SUSPENDED = "suspended", pgettext_lazy("sms", "暂缓处理")
    RESUMED = "resumed", pgettext_lazy("sms", "恢复处理")
    EXTENDED = "extended", pgettext_lazy("sms", "延期")
    REPLIED = "replied", pgettext_lazy("sms", "已答复")
    CLOSED = "closed", pgettext_lazy("sms", "已办结")
    FAULT_ETA = "fault_eta", pgettext_lazy("sms", "群障恢复通知")
    OPT_OUT = "opt_out", _("退订确认")


class SmsTemplate(models.Model):
    """The text of one event's message, with named variables ({number}); the operator's SMS
    platform knows it by `code`. One active template per event; a template that uses a
    variable its event lacks, or leaves out the status link, cannot be saved."""

    code = models.CharField(
        _("模板编号"), max_length=32, unique=True, help_text=_("短信平台上报备的模板编号。")
    )
    event = models.CharField(_("事件"), max_length=16, choices=SmsEvent.choices)
    text = models.TextField(_("模板内容"))
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    # Bulk writes invalidate the per-process copy of the templates (sms_channel).
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("短信模板")
        verbose_name_plural = _("短信模板")
        ordering = ["event", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["event"],
                condition=models.Q(active=True),
                name="smstemplate_one_active",
                violation_error_message=_("该事件已有启用的模板，请先停用它。"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_event_display()})"

    def clean(self) -> None:
        from .sms_templates import template_check

        template_check(self.event, self.text or "")


class SmsOptOut(models.Model):
    """A number that asked for no more texts (退订), when and how; `cleared_at` set when a
    member of staff lifted it at the customer's request. One row per number."""

    phone = models.CharField(_("手机号"), max_length=20, unique=True)
    at = models.DateTimeField(_("退订时间"), db_index=True)
    source = models.CharField(_("来源"), max_length=64)
    # The order the number last heard about (for the reports' department figures).
    ticket = models.ForeignKey(
        "workorders.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("工单"),
    )
    cleared_at = models.DateTimeField(pgettext_lazy("opt-out", "解除时间"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=pgettext_lazy("opt-out", "解除人"),
    )

    class Meta:
        verbose_name = _("短信退订")
        verbose_name_plural = _("短信退订")
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.phone

    @property
    def active(self) -> bool:
        return self.cleared_at is None


class SmsDailyCount(models.Model):
    """Texts sent to a number on a local day, for the daily cap: taken (+1) by one atomic
    upsert just before a text is sent, given back when the platform refuses it. Rows of past
    days are pruned daily."""

    phone = models.CharField(max_length=20)
    day = models.DateField()
    sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phone", "day"], name="smsdailycount_phone_day")
        ]
        indexes = [models.Index(fields=["day"], name="smsdailycount_day")]

    def __str__(self) -> str:
        return f"{self.phone} {self.day}: {self.sent}"


class SmsInbound(models.Model):
    """A text a customer sent back (the platform's inbound callback). `provider_id` makes a
    repeated callback a no-op."""

    provider_id = models.CharField(_("平台消息编号"), max_length=64, unique=True)
    phone = models.CharField(_("手机号"), max_length=20, db_index=True)
    text = models.CharField(_("内容"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("接收时间"))
    opt_out = models.BooleanField(_("退订"), default=False)

    class Meta:
        verbose_name = _("客户回复短信")
        verbose_name_plural = _("客户回复短信")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return self.text[:40]


class CustomerMessageManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(channel=Channel.SMS)


class CustomerMessage(Delivery):
    """客户短信: the outbox's SMS rows, as staff see them (the admin's list of texts)."""

    objects = CustomerMessageManager()

    class Meta:
        proxy = True
        verbose_name = _("客户短信")
        verbose_name_plural = _("客户短信")
        ordering = ["-created_at", "-id"]
