"""Cache invalidation (an extension, not the flow): whoever saves SLA reference data, in the
admin, a command or a shell, the per-process copy in `sla.reference` is forgotten."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from . import reference


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    reference.invalidate()


def connect() -> None:
    from workorders.models import Category

    from .models import Calendar, CalendarDay, DepartmentCalendar, SlaPolicy

    for model in (SlaPolicy, Calendar, CalendarDay, DepartmentCalendar, Category):
        uid = f"sla-reference-{model._meta.label_lower}"
        post_save.connect(_changed, sender=model, dispatch_uid=uid + "-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=uid + "-delete")
