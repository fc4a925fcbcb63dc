"""The department's own setup, kept by its lead: reply templates (回复模板), handler skills
and the auto-assign rule. A lead sees and edits only their department's (and its teams');
superusers every department's. `workorders.permissions.may_manage_department_setup` decides."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.models import Department, User
from accounts.roles import Role
from workorders.models import AutoAssignRule, Category, HandlerSkill, ReplyTemplate
from workorders.permissions import may_manage_department_setup


class DepartmentSetupAdmin(admin.ModelAdmin):
    """Rows belong to a department (`dept_path`: the lookup of its materialised path)."""

    dept_path = "department__path"

    def _department_of(self, obj):
        return obj.department

    def _may(self, request, action: str, obj=None) -> bool:
        perm = f"{self.opts.app_label}.{action}_{self.opts.model_name}"
        department = None if obj is None else self._department_of(obj)
        return may_manage_department_setup(request.user, department, perm)

    def has_module_permission(self, request) -> bool:
        return self._may(request, "view")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, "view", obj)

    def has_add_permission(self, request) -> bool:
        return self._may(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may(request, "change", obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may(request, "delete", obj)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return qs
        if user.department_id is None:
            return qs.none()
        return qs.filter(**{f"{self.dept_path}__startswith": user.department.path})

    def departments_for(self, request):
        qs = Department.objects.filter(is_active=True).order_by("path")
        if request.user.is_superuser:
            return qs
        return qs.filter(path__startswith=request.user.department.path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "department":
            kwargs["queryset"] = self.departments_for(request)
        elif db_field.name == "category":
            kwargs["queryset"] = Category.objects.filter(is_active=True).select_related("parent")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(DepartmentSetupAdmin):
    list_display = ["title", "department", "category", "cause", "is_active", "sort_order"]
    list_filter = ["cause", "is_active", "department"]
    search_fields = ["title", "result", "public_reply"]
    list_select_related = ["department", "category", "category__parent"]
    fields = [
        "department",
        "category",
        "cause",
        "title",
        "result",
        "public_reply",
        "is_active",
        "sort_order",
    ]

    class Media:
        css = {"all": ["backoffice/backoffice.css"]}


@admin.register(HandlerSkill)
class HandlerSkillAdmin(DepartmentSetupAdmin):
    list_display = ["user", "user_department", "category"]
    list_select_related = ["user__department", "category", "category__parent"]
    list_filter = ["category"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    dept_path = "user__department__path"

    def _department_of(self, obj):
        return obj.user.department

    @admin.display(description=_("部门"), ordering="user__department__path")
    def user_department(self, obj):
        return obj.user.department

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            users = User.objects.filter(is_active=True, groups__name=Role.HANDLER)
            if not request.user.is_superuser:
                users = users.filter(department__path__startswith=request.user.department.path)
            kwargs["queryset"] = users.distinct().order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AutoAssignRule)
class AutoAssignRuleAdmin(DepartmentSetupAdmin):
    list_display = ["department", "enabled"]
    list_filter = ["enabled"]
    list_select_related = ["department"]
    fields = ["department", "enabled"]
