from django.contrib import admin

from .models import JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """Read-only: what the background jobs last did (superusers only)."""

    list_display = (
        "name",
        "last_success_at",
        "last_duration_seconds",
        "running_since",
        "last_failed_at",
        "runs",
        "skipped",
    )
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
