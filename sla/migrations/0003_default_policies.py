"""Seed the SLA policies of DESIGN.md §4 (minutes)."""

from django.db import migrations

DEFAULTS = {
    ("dispatch", "general"): 120,
    ("dispatch", "urgent"): 15,
    ("sign_for", "general"): 120,
    ("sign_for", "urgent"): 30,
    ("promise", "general"): 48 * 60,
    ("promise", "urgent"): 4 * 60,
    ("visit", "general"): 24 * 60,
    ("visit", "urgent"): 4 * 60,
}


def forwards(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    for (kind, urgency), minutes in DEFAULTS.items():
        SlaPolicy.objects.get_or_create(
            kind=kind, urgency=urgency, defaults={"target_minutes": minutes}
        )


class Migration(migrations.Migration):
    dependencies = [("sla", "0002_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
