from django.contrib import admin

from accounts.roles import Role

from .models import ExportLog, ReportFile, ReportRecipient, SubscriberCount


def _superuser_or_auditor(request) -> bool:
    user = request.user
    return user.is_active and (user.is_superuser or Role.AUDITOR in user.roles)


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin):
    """Read-only: the export log is a record, for superusers and auditors."""

    list_display = ("created_at", "user", "kind", "format", "rows", "completed", "filters")
    list_filter = ("kind", "format", "completed")
    search_fields = ("user__username",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in ExportLog._meta.fields]

    def has_module_permission(self, request):
        return _superuser_or_auditor(request)

    def has_view_permission(self, request, obj=None):
        return _superuser_or_auditor(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReportRecipient)
class ReportRecipientAdmin(admin.ModelAdmin):
    list_display = ("email", "department", "frequency", "is_active")
    list_filter = ("frequency", "is_active")
    search_fields = ("email",)


@admin.register(ReportFile)
class ReportFileAdmin(admin.ModelAdmin):
    list_display = (
        "period_start",
        "period_end",
        "frequency",
        "department",
        "full_phone",
        "rows",
        "emailed_at",
    )
    list_filter = ("frequency",)
    readonly_fields = [f.name for f in ReportFile._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SubscriberCount)
class SubscriberCountAdmin(admin.ModelAdmin):
    """Subscribers per region and month (申诉率's denominator); `manage.py import_subscribers`
    loads a CSV."""

    list_display = ("month", "region", "subscribers")
    list_filter = ("region",)
    search_fields = ("region",)
