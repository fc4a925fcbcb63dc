"""Stripe each KPI cell over 16 rows (by order id), so that orders of the same day and kind
written at once do not queue on one row. The roll-up is emptied: reports use live SQL until
`manage.py kpi_rebuild` builds it again (README)."""

from django.db import migrations, models


def empty_rollup(apps, schema_editor):
    for name in ("KpiShare", "KpiDaily", "KpiRollupState"):
        apps.get_model("reports", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_kpi_daily_rollup"),
    ]

    operations = [
        migrations.RunPython(empty_rollup, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="kpidaily", name="reports_kpidaily_cell"),
        migrations.AddField(
            model_name="kpidaily",
            name="stripe",
            field=models.SmallIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="kpidaily",
            constraint=models.UniqueConstraint(
                fields=(
                    "day",
                    "department_id",
                    "category_id",
                    "region",
                    "urgency",
                    "channel",
                    "stripe",
                ),
                name="reports_kpidaily_cell_stripe",
            ),
        ),
    ]
