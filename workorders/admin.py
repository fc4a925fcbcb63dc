"""Basic admin registrations so the data can be seen. Workflow changes go through services;
these pages never assign the state (the field is protected and read-only here)."""

from django.contrib import admin

from .models import (
    Attachment,
    AuditEntry,
    Category,
    Chase,
    Comment,
    ExtensionRequest,
    RedoProposal,
    Supervision,
    SuspensionRequest,
    Ticket,
)
from .selectors import tickets_visible_to


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "parent",
        "default_urgency",
        "default_department",
        "auto_dispatch",
        "is_active",
    ]
    list_filter = ["default_urgency", "auto_dispatch", "is_active"]


class AuditInline(admin.TabularInline):
    model = AuditEntry
    extra = 0
    can_delete = False
    fields = ["at", "transition", "source", "target", "actor", "actor_role", "comment"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "summary",
        "category",
        "urgency",
        "state",
        "department",
        "handler",
        "promise_due_at",
        "reported_at",
    ]
    list_filter = ["state", "urgency", "category", "department"]
    search_fields = ["number", "customer_phone", "customer_name"]
    list_select_related = ["category", "category__parent", "department", "handler"]
    readonly_fields = ["number", "state", "promise_due_at", "promise_clock", "version"]
    inlines = [AuditInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return tickets_visible_to(request.user, super().get_queryset(request))

    def has_add_permission(self, request):
        return False


for model in (
    AuditEntry,
    ExtensionRequest,
    SuspensionRequest,
    RedoProposal,
    Comment,
    Attachment,
    Chase,
    Supervision,
):
    admin.site.register(model)
