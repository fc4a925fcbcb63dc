"""The customer's side (DESIGN.md §9): the public reply, the visit channel (filled in for
orders closed before: on the spot when the reporting frontline worker recorded the verdict,
by phone when a dispatcher did; none when the system closed it), and redo proposals that
the customer's own survey answer makes (no proposing user; the channel of the verdict)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill_visit_channel(apps, schema_editor):
    Ticket = apps.get_model("workorders", "Ticket")
    AuditEntry = apps.get_model("workorders", "AuditEntry")
    visited = Ticket.objects.filter(visit_by__isnull=False, visit_channel="")
    on_spot = AuditEntry.objects.filter(
        ticket=models.OuterRef("pk"), transition="close", actor_role="frontline"
    )
    visited.filter(models.Exists(on_spot)).update(visit_channel="on_the_spot")
    visited.update(visit_channel="phone")


class Migration(migrations.Migration):
    dependencies = [
        ("workorders", "0003_normalize_customer_phones"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="redoproposal",
            name="channel",
            field=models.CharField(
                blank=True,
                choices=[
                    ("phone", "电话回访"),
                    ("sms_survey", "短信满意度调查"),
                    ("on_the_spot", "现场回访"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="ticket",
            name="public_reply",
            field=models.TextField(blank=True, verbose_name="答复客户"),
        ),
        migrations.AddField(
            model_name="ticket",
            name="visit_channel",
            field=models.CharField(
                blank=True,
                choices=[
                    ("phone", "电话回访"),
                    ("sms_survey", "短信满意度调查"),
                    ("on_the_spot", "现场回访"),
                ],
                max_length=16,
                verbose_name="回访渠道",
            ),
        ),
        migrations.AlterField(
            model_name="redoproposal",
            name="proposed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(backfill_visit_channel, migrations.RunPython.noop, elidable=True),
    ]
