from django.contrib import admin

from .models import Clock, SlaEvent, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["kind", "urgency", "target_minutes", "remind_percent", "chase_percent"]


@admin.register(Clock)
class ClockAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "department", "started_at", "due_at", "stopped_at", "outcome"]
    list_filter = ["kind", "outcome", "voided"]
    list_select_related = ["ticket", "department"]
    readonly_fields = [f.name for f in Clock._meta.fields]


@admin.register(SlaEvent)
class SlaEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "clock", "level", "kind", "threshold_at", "recorded_at", "late"]
    list_select_related = ["ticket", "clock"]
