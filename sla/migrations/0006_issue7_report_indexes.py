from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0005_issue6_running_clock_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="clock",
            index=models.Index(fields=["kind", "started_at"], name="clock_kind_started"),
        ),
    ]
