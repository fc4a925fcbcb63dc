"""Create the six role groups with their permissions and the four professional lines."""

from django.db import migrations

ROLE_PERMISSIONS = {
    # Frozen copy of accounts.roles.ROLE_PERMISSIONS at the time of this migration.
    "frontline": ["report_ticket", "chase_ticket", "comment_ticket", "visit_on_spot"],
    "dispatcher": [
        "report_ticket", "view_all_tickets", "view_full_phone", "dispatch_ticket",
        "rule_return", "review_reply", "visit_ticket", "propose_redo", "cancel_ticket",
        "change_urgency", "chase_ticket", "comment_ticket", "view_reports", "view_ticket",
    ],
    "lead": [
        "view_full_phone", "claim_ticket", "assign_ticket", "request_return",
        "request_cohandling", "approve_suspension", "approve_extension", "request_suspension",
        "request_extension", "reply_ticket", "resume_ticket", "comment_ticket", "view_reports",
        "view_ticket",
    ],
    "handler": [
        "view_full_phone", "claim_ticket", "reply_ticket", "request_suspension",
        "request_extension", "resume_ticket", "comment_ticket", "view_ticket",
    ],
    "supervisor": [
        "view_all_tickets", "approve_extension", "approve_suspension", "supervise_ticket",
        "confirm_redo", "chase_ticket", "comment_ticket", "view_reports", "export_tickets",
        "view_ticket",
    ],
    "auditor": ["view_all_tickets", "view_reports", "export_tickets", "view_ticket"],
}

LINES = [
    ("network", "网络保障"),
    ("business", "业务管理"),
    ("channel", "渠道服务"),
    ("systems", "系统支撑"),
]


def forwards(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Custom permissions are normally created after migrate; create them now so the groups
    # can be granted them in the same run.
    app_config = apps.get_app_config("workorders")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = Permission.objects.filter(
            content_type__app_label="workorders", codename__in=codenames
        )
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"missing permissions for {role}: {sorted(missing)}")
        group.permissions.set(perms)

    Department = apps.get_model("accounts", "Department")
    root, _ = Department.objects.get_or_create(
        code="province", defaults={"name": "省公司", "kind": "branch"}
    )
    if not root.path:
        root.path = f"{root.pk:04d}/"
        root.save(update_fields=["path"])
    for code, name in LINES:
        dept, created = Department.objects.get_or_create(
            code=code, defaults={"name": name, "kind": "line", "parent": root}
        )
        if created or not dept.path:
            dept.path = f"{root.path}{dept.pk:04d}/"
            dept.save(update_fields=["path"])


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("workorders", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
