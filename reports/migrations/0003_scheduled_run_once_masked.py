from django.db import migrations, models


def mark_old_files_and_drop_duplicates(apps, schema_editor):
    """Files built before this migration carry full phone numbers (they were built as "the
    system sees everything"): mark them so that only readers allowed full numbers get them.
    Two concurrent runs could store two company-wide files for a period (NULL department
    passed the old unique constraint): keep the first, delete the others and their files."""
    from django.core.files.storage import default_storage

    ReportFile = apps.get_model("reports", "ReportFile")
    ReportFile.objects.update(full_phone=True)
    seen = set()
    for rf in ReportFile.objects.filter(department__isnull=True).order_by("id"):
        key = (rf.frequency, rf.period_start)
        if key in seen:
            if rf.file.name:
                default_storage.delete(rf.file.name)
            rf.delete()
        seen.add(key)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles_and_lines"),
        ("reports", "0002_issue7_grant_export"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportfile",
            name="full_phone",
            field=models.BooleanField(default=False, verbose_name="含完整号码"),
        ),
        migrations.RunPython(mark_old_files_and_drop_duplicates, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="reportfile",
            name="report_file_unique",
        ),
        migrations.AddConstraint(
            model_name="reportfile",
            constraint=models.UniqueConstraint(
                fields=("frequency", "period_start", "department", "full_phone"),
                name="report_file_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="reportfile",
            constraint=models.UniqueConstraint(
                condition=models.Q(("department__isnull", True)),
                fields=("frequency", "period_start", "full_phone"),
                name="report_file_unique_company",
            ),
        ),
    ]
