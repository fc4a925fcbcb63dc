from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "ticket", "kind", "title", "created_at", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient", "ticket"]
