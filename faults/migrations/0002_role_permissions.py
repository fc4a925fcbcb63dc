"""Grant the fault rights to the role groups (DESIGN.md §10): dispatchers confirm, dismiss,
link, set the ETA and close; leads link, set the ETA and resolve in their department; handlers,
supervisors and auditors see."""

from django.db import migrations

GRANTS = {
    "dispatcher": ["view_fault", "confirm_fault", "link_fault", "set_fault_eta", "close_fault"],
    "lead": ["view_fault", "link_fault", "set_fault_eta", "resolve_fault"],
    "handler": ["view_fault"],
    "supervisor": ["view_fault"],
    "auditor": ["view_fault"],
}


def forwards(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; create them now to grant them.
    app_config = apps.get_app_config("faults")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        perms = Permission.objects.filter(content_type__app_label="faults", codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"missing permissions for {role}: {sorted(missing)}")
        group.permissions.add(*perms)


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="faults")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("faults", "0001_initial"),
        ("accounts", "0002_roles_and_lines"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
