"""Mass faults (群障): a flag on the category says whether its orders may be grouped into a
fault. Coverage and broadband outages are the clusterable ones in the seeded catalogue."""

from django.db import migrations, models

CLUSTERABLE = ["signal_coverage", "broadband_fault"]


def forwards(apps, schema_editor):
    Category = apps.get_model("workorders", "Category")
    Category.objects.filter(code__in=CLUSTERABLE).update(clusterable=True)


class Migration(migrations.Migration):
    dependencies = [
        ("workorders", "0005_channels_app_social_regulator"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="clusterable",
            field=models.BooleanField(
                default=False,
                help_text="同一区域短时间内多张此类工单时，系统提示疑似群障。",
                verbose_name="可聚类(群障)",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
