# 协办 from the field: the handler group gets request_cohandling (workorders.permissions limits it
# to the orders assigned to the handler).

from django.db import migrations


def grant(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="handler").first()
    perm = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="workorders", codename="request_cohandling"
    )
    if group is not None and perm.exists():
        group.permissions.add(*perm)


def ungrant(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="handler").first()
    if group is not None:
        group.permissions.remove(
            *apps.get_model("auth", "Permission").objects.filter(
                content_type__app_label="workorders", codename="request_cohandling"
            )
        )


class Migration(migrations.Migration):
    dependencies = [("workorders", "0014_open_queue_index")]

    operations = [migrations.RunPython(grant, ungrant)]
