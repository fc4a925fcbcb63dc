"""Key each KPI cell also by the department the order is with now (`order_department_id`),
so that a lead's figures can read his subtree's orders from the roll-up. The roll-up is
emptied: reports use live SQL until `manage.py kpi_rebuild` builds it again (README)."""

from django.db import migrations, models


def empty_rollup(apps, schema_editor):
    for name in ("KpiShare", "KpiDaily", "KpiRollupState"):
        apps.get_model("reports", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0006_kpi_daily_stripes"),
    ]

    operations = [
        migrations.RunPython(empty_rollup, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="kpidaily", name="reports_kpidaily_cell_stripe"),
        migrations.AddField(
            model_name="kpidaily",
            name="order_department_id",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="kpidaily",
            constraint=models.UniqueConstraint(
                fields=(
                    "day",
                    "department_id",
                    "order_department_id",
                    "category_id",
                    "region",
                    "urgency",
                    "channel",
                    "stripe",
                ),
                name="reports_kpidaily_cell_order_dept",
            ),
        ),
    ]
