"""Leads export their own subtree's orders (issue 7): grant `export_tickets` to the lead group.
Auditors and supervisors already hold it (accounts 0002)."""

from django.db import migrations

GRANTS = {"lead": ["export_tickets"], "auditor": ["export_tickets"], "supervisor": ["export_tickets"]}


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        perms = Permission.objects.filter(
            content_type__app_label="workorders", codename__in=codenames
        )
        group.permissions.add(*perms)


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="lead").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="workorders", codename="export_tickets"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_issue7_reports"),
        ("accounts", "0002_roles_and_lines"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
