"""The customer's side of an order (DESIGN.md §9): the status link, the customer's own notes,
and the satisfaction surveys offered after each reply."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workorders.models import Satisfaction


class StatusLink(models.Model):
    """One per order. The token is derived from the nonce with a key of SECRET_KEY (so the
    same link can be rebuilt for every message) and only its SHA-256 is stored: a copy of
    the database does not open anyone's status page. Expires 30 days after the order ends."""

    ticket = models.OneToOneField(
        "workorders.Ticket", on_delete=models.CASCADE, related_name="status_link"
    )
    nonce = models.CharField(max_length=32, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(_("失效时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("进度查询链接")
        verbose_name_plural = _("进度查询链接")

    def __str__(self) -> str:
        return f"{self.ticket_id}"


class CustomerNote(models.Model):
    """What the customer adds on the status page (at most once an hour per order)."""

    ticket = models.ForeignKey(
        "workorders.Ticket", on_delete=models.CASCADE, related_name="customer_notes"
    )
    text = models.CharField(_("补充内容"), max_length=500)
    created_at = models.DateTimeField()
    # A keyed hash of the sender's address: repeated abuse can be told apart without
    # keeping anyone's address.
    source = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = _("客户补充")
        verbose_name_plural = _("客户补充")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="customernote_ticket_at")]

    def __str__(self) -> str:
        return self.text[:40]


class Survey(models.Model):
    """The satisfaction survey offered with one reply (the reply's audit row), and the
    customer's answer once given. `applied`: the answer decided the order (closed it or
    proposed the redo); False when a visit had decided it already (kept, changes nothing)."""

    ticket = models.ForeignKey(
        "workorders.Ticket", on_delete=models.CASCADE, related_name="surveys"
    )
    reply_entry = models.OneToOneField(
        "workorders.AuditEntry", on_delete=models.CASCADE, related_name="survey"
    )
    offered_at = models.DateTimeField(_("调查时间"))
    # Until then the order waits for the answer instead of the dispatchers' callback queue.
    wait_until = models.DateTimeField()
    answered_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    resolved = models.BooleanField(_("问题是否已解决"), null=True, blank=True)
    satisfaction = models.CharField(
        _("满意度"), max_length=16, choices=Satisfaction.choices, blank=True
    )
    comment = models.CharField(_("意见"), max_length=500, blank=True)
    applied = models.BooleanField(null=True, blank=True)

    class Meta:
        verbose_name = _("满意度调查")
        verbose_name_plural = _("满意度调查")
        ordering = ["offered_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "offered_at"], name="survey_ticket_offered"),
            models.Index(fields=["offered_at"], name="survey_offered"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.offered_at:%Y-%m-%d %H:%M}"

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


class CustomerLookup(models.Model):
    """One row per look-up of a customer's orders by phone (the hotline agent's screen)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_role = models.CharField(_("角色"), max_length=16)
    phone = models.CharField(_("客户电话"), max_length=20, db_index=True)
    at = models.DateTimeField(_("时间"), db_index=True)

    class Meta:
        verbose_name = _("客户查询记录")
        verbose_name_plural = _("客户查询记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.phone} {self.at:%Y-%m-%d %H:%M}"
