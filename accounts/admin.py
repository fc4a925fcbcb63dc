from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Department, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "department", "is_staff", "is_active"]
    list_filter = ["groups", "department", "is_staff", "is_active"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Whistle", {"fields": ("department", "phone", "language")}),
    )
