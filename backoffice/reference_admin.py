"""Reference data: departments (tree), users with roles and department, categories with
routing and default urgency (SLA rules and calendars: `sla_admin.py`). Anyone with the view
permission may look; only superusers add, change or delete."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Department, User
from accounts.roles import Role
from customers.models import CustomerLookup
from sla.models import Clock, SlaEvent
from workorders.models import AuditEntry, Category, ChannelAccount, RiskRule
from workorders.selectors import tickets_visible_to


class SuperuserEditsMixin:
    """View follows Django's permissions; add, change and delete are for superusers only."""

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


class ReadOnlyMixin:
    """Records written by the workflow: nobody edits them here, not even a superuser."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Department)
class DepartmentAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    list_display = ["tree_name", "code", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]
    list_select_related = ["parent"]
    ordering = ["path"]
    fields = ["name", "code", "kind", "parent", "is_active"]

    @admin.display(description=_("部门"), ordering="path")
    def tree_name(self, obj: Department):
        return format_html(
            '<span class="bo-tree bo-depth-{}">{}{}</span>',
            min(max(obj.depth - 1, 0), 8),
            "└ " if obj.parent_id else "",
            obj.name,
        )


@admin.register(User)
class UserAdmin(SuperuserEditsMixin, BaseUserAdmin):
    list_display = ["username", "full_name", "department", "role_list", "is_staff", "is_active"]
    list_filter = ["groups", "department", "is_staff", "is_active"]
    list_select_related = ["department"]
    search_fields = ["username", "first_name", "last_name", "phone"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("个人信息"), {"fields": ("last_name", "first_name", "email", "phone", "language")}),
        (_("部门与角色"), {"fields": ("department", "groups")}),
        (
            _("权限"),
            {"fields": ("is_active", "is_staff", "is_superuser", "user_permissions")},
        ),
        (_("重要日期"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (_("部门与角色"), {"fields": ("department", "groups", "is_staff")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
        )

    @admin.display(description=_("姓名"))
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.display(description=pgettext_lazy("plural", "角色"))
    def role_list(self, obj: User) -> str:
        labels = dict(Role.choices)
        return "、".join(str(labels.get(g.name, g.name)) for g in obj.groups.all())


@admin.register(Category)
class CategoryAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "code",
        "default_urgency",
        "default_department",
        "auto_dispatch",
        "clusterable",
        "sort_order",
        "is_active",
    ]
    list_filter = ["default_urgency", "auto_dispatch", "clusterable", "is_active"]
    list_select_related = ["parent", "default_department"]
    search_fields = ["name", "code"]
    fieldsets = (
        (None, {"fields": ("name", "code", "parent", "sort_order", "is_active")}),
        (_("路由与时限"), {"fields": ("default_urgency", "default_department", "auto_dispatch")}),
        (_("群障"), {"fields": ("clusterable",)}),
    )


class ScopedByTicketMixin:
    """Rows about orders: only those on orders the user may see."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.filter(ticket__in=tickets_visible_to(request.user).values("pk"))


@admin.register(Clock)
class ClockAdmin(ScopedByTicketMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "ticket",
        "kind",
        "department",
        "started_at",
        "original_due_at",
        "due_at",
        "stopped_at",
        "outcome",
    ]
    list_filter = ["kind", "outcome", "voided"]
    list_select_related = ["ticket", "department"]
    show_full_result_count = False


@admin.register(SlaEvent)
class SlaEventAdmin(ScopedByTicketMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["ticket", "clock", "level", "kind", "threshold_at", "recorded_at", "late"]
    list_filter = ["kind", "late"]
    list_select_related = ["ticket", "clock"]
    show_full_result_count = False


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedByTicketMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "ticket", "transition", "source", "target", "actor", "actor_role"]
    list_filter = ["transition", "actor_role"]
    list_select_related = ["ticket", "actor"]
    search_fields = ["ticket__number"]
    date_hierarchy = None
    show_full_result_count = False


@admin.register(ChannelAccount)
class ChannelAccountAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    """Service accounts of channel systems: the user (role 渠道系统) and its one channel. Its
    API token: `manage.py drf_create_token <username>`."""

    list_display = ["user", "channel"]
    list_filter = ["channel"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(RiskRule)
class RiskRuleAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    """越级投诉预警: the points of each rule and whether it counts (the conditions are fixed by
    code); scores follow on each order's next event."""

    list_display = ["code", "label", "points", "active"]
    list_editable = ["points", "active"]
    readonly_fields = ["code"]

    def has_add_permission(self, request, *args) -> bool:
        return False  # a new code would have no condition


@admin.register(CustomerLookup)
class CustomerLookupAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "actor", "actor_role", "phone"]
    list_filter = ["actor_role"]
    list_select_related = ["actor"]
    search_fields = ["phone"]
    show_full_result_count = False


__all__ = [
    "AuditEntryAdmin",
    "CategoryAdmin",
    "ChannelAccountAdmin",
    "ClockAdmin",
    "CustomerLookupAdmin",
    "DepartmentAdmin",
    "RiskRuleAdmin",
    "SlaEventAdmin",
    "UserAdmin",
]
