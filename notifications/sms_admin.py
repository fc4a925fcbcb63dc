"""The SMS channel in the admin: templates (superusers), opt-outs (shown to who sees every
order, cleared by customer service), customers' replies (superusers), and the texts to
customers of the orders a user may see, the number masked for roles that may not see it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import BooleanField, Case, Value, When
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from workorders.permissions import can_see_full_phone, mask_phone, sees_all_tickets
from workorders.selectors import tickets_visible_to

from .models import CustomerMessage, SmsInbound, SmsOptOut, SmsTemplate
from .sms import sms_length, sms_segments
from .sms_channel import may_clear_opt_out, sms_opt_out_clear
from .sms_selectors import event_label, status_text
from .sms_templates import EVENT_VARIABLES, REQUIRED, SAMPLE, VARIABLES, template_render


def _superuser(request) -> bool:
    return request.user.is_active and request.user.is_superuser


@admin.register(SmsTemplate)
class SmsTemplateAdmin(admin.ModelAdmin):
    """Texts as data: superusers edit them; a template its event cannot fill is refused."""

    list_display = ["code", "event", "active", "preview_segments", "updated_at"]
    list_filter = ["event", "active"]
    readonly_fields = ["variables_help", "preview", "updated_at"]
    fields = ["code", "event", "active", "text", "variables_help", "preview", "updated_at"]

    def has_module_permission(self, request):
        return _superuser(request)

    def has_view_permission(self, request, obj=None):
        return _superuser(request)

    def has_add_permission(self, request):
        return _superuser(request)

    def has_change_permission(self, request, obj=None):
        return _superuser(request)

    def has_delete_permission(self, request, obj=None):
        return _superuser(request)

    def _sample(self, obj) -> str:
        from django.conf import settings

        return settings.SMS_SIGN_NAME + template_render(obj.text or "", SAMPLE)

    @admin.display(description=_("预计条数"))
    def preview_segments(self, obj) -> int:
        return sms_segments(self._sample(obj))

    @admin.display(description=_("示例"))
    def preview(self, obj) -> str:
        if obj is None or not obj.pk:
            return "—"
        text = self._sample(obj)
        return _("%(text)s（%(n)d 字，%(parts)d 条）") % {
            "text": text,
            "n": sms_length(text),
            "parts": sms_segments(text),
        }

    @admin.display(description=_("可用变量"))
    def variables_help(self, obj):
        rows = []
        for event, names in EVENT_VARIABLES.items():
            from .models import SmsEvent

            required = set(REQUIRED.get(event, ()))
            listing = "、".join(
                f"{{{n}}} {VARIABLES[n]}" + (" *" if n in required else "") for n in names
            )
            rows.append((SmsEvent(event).label, listing or "—"))
        return format_html_join("", "<p><b>{}</b>：{}</p>", rows)


def _with_phone_right(qs, user, reporter_field: str | None = None):
    """Annotate `full_phone`: may this user see the row's number whole? (The admin instance
    is shared by every request, so the answer travels with the rows, not on `self`.)"""
    allowed = can_see_full_phone(user)
    if allowed or reporter_field is None:
        return qs.annotate(full_phone=Value(allowed, output_field=BooleanField()))
    return qs.annotate(
        full_phone=Case(
            When(**{reporter_field: user.pk}, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def _phone(obj, phone: str) -> str:
    return phone if getattr(obj, "full_phone", False) else mask_phone(phone)


@admin.register(SmsOptOut)
class SmsOptOutAdmin(admin.ModelAdmin):
    """Numbers that asked for no more texts. Shown to who sees every order; customer service
    lifts one when the customer asks for texts again. Never added or deleted by hand."""

    list_display = ["phone_display", "at", "source", "ticket", "cleared_at", "cleared_by"]
    list_filter = [("cleared_at", admin.EmptyFieldListFilter), "source"]
    list_select_related = ["ticket", "cleared_by"]
    actions = ["clear"]
    fields = ["phone_display", "at", "source", "ticket", "cleared_at", "cleared_by"]
    readonly_fields = fields

    def has_module_permission(self, request):
        return request.user.is_active and (
            request.user.is_superuser or sees_all_tickets(request.user)
        )

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_clear_permission(self, request):
        return may_clear_opt_out(request.user)

    def get_search_fields(self, request):
        # A search by number would confirm a number to someone who may not see it.
        return ["phone"] if can_see_full_phone(request.user) else []

    @admin.display(description=_("手机号"), ordering="phone")
    def phone_display(self, obj) -> str:
        return _phone(obj, obj.phone)

    def get_queryset(self, request):
        return _with_phone_right(super().get_queryset(request), request.user)

    @admin.action(description=_("解除所选号码的退订"), permissions=["clear"])
    def clear(self, request, queryset):
        n = 0
        for row in queryset.filter(cleared_at__isnull=True):
            sms_opt_out_clear(opt_out=row, by=request.user)
            n += 1
        self.message_user(request, _("已解除 %(n)d 个号码的退订。") % {"n": n}, messages.SUCCESS)


@admin.register(SmsInbound)
class SmsInboundAdmin(admin.ModelAdmin):
    list_display = ["received_at", "phone", "text", "opt_out", "provider_id"]
    list_filter = ["opt_out"]
    readonly_fields = ["provider_id", "phone", "text", "received_at", "opt_out"]

    def has_module_permission(self, request):
        return _superuser(request)

    def has_view_permission(self, request, obj=None):
        return _superuser(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerMessage)
class CustomerMessageAdmin(admin.ModelAdmin):
    """客户短信: the texts to customers of the orders the user may see (read-only)."""

    list_display = [
        "created_at",
        "ticket_number",
        "event_display",
        "to_display",
        "status_display",
        "segments",
        "sent_at",
        "text_display",
    ]
    list_filter = ["status", "kind", "receipt_status"]
    list_select_related = ["ticket"]
    search_fields = ["ticket__number"]
    show_full_result_count = False
    fields = [
        "created_at",
        "ticket",
        "event_display",
        "to_display",
        "status_display",
        "text_display",
        "segments",
        "attempts",
        "sent_at",
        "receipt_at",
        "provider_message_id",
    ]
    readonly_fields = fields

    def has_module_permission(self, request):
        return request.user.is_active and request.user.has_perm("workorders.view_ticket")

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        qs = _with_phone_right(super().get_queryset(request), request.user, "ticket__reporter_id")
        if request.user.is_superuser or sees_all_tickets(request.user):
            return qs
        return qs.filter(ticket__in=tickets_visible_to(request.user).values("pk"))

    @admin.display(description=_("工单号"), ordering="ticket__number")
    def ticket_number(self, obj) -> str:
        return obj.ticket.number if obj.ticket_id else "—"

    @admin.display(description=_("事件"))
    def event_display(self, obj) -> str:
        return event_label(obj)

    @admin.display(description=_("发往"))
    def to_display(self, obj) -> str:
        return _phone(obj, obj.address)

    @admin.display(description=_("状态"))
    def status_display(self, obj) -> str:
        return status_text(obj)

    @admin.display(description=_("内容"))
    def text_display(self, obj) -> str:
        return obj.payload.get("text", "")
