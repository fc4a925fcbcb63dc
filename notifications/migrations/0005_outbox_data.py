"""Data into the outbox (schema in 0004; a separate migration because PostgreSQL refuses to
alter a table with pending deferred-constraint checks in the same transaction).

- Webhook deliveries that succeeded are now `sent`.
- E-mail history moves from the notification to the outbox: a mailed notification gets a `sent`
  e-mail delivery, one whose mail failed a `failed` one, so nothing mailed is mailed again.
- A notification of the last day that should have been mailed and was not (its task still
  queued under the old code, or lost while the broker was down) gets a `pending` delivery,
  which the relay sends.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

CHUNK = 2000


def forwards(apps, schema_editor):
    Delivery = apps.get_model("notifications", "Delivery")
    Notification = apps.get_model("notifications", "Notification")
    Delivery.objects.filter(status="succeeded").update(status="sent")

    now = timezone.now()
    recent = now - timedelta(days=1)
    rows = []
    notes = (
        Notification.objects.exclude(recipient__email="")
        .select_related("recipient")
        .order_by("pk")
    )
    for n in notes.iterator(chunk_size=CHUNK):
        row = dict(
            channel="email",
            key=n.key,
            kind=n.kind,
            ticket_id=n.ticket_id,
            recipient_id=n.recipient_id,
            address=n.recipient.email,
            payload={"subject": n.title, "body": n.body},
            created_at=n.created_at,
        )
        if n.emailed_at is not None:
            row.update(status="sent", attempts=1, sent_at=n.emailed_at)
        elif n.email_error:
            row.update(status="failed", attempts=1, last_error=n.email_error[:500])
        elif settings.NOTIFY_EMAIL and n.created_at >= recent:
            row.update(status="pending", next_attempt_at=now)
        else:
            continue
        rows.append(Delivery(**row))
        if len(rows) >= CHUNK:
            Delivery.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)


def backwards(apps, schema_editor):
    Delivery = apps.get_model("notifications", "Delivery")
    Notification = apps.get_model("notifications", "Notification")
    for d in Delivery.objects.filter(channel="email").exclude(status="pending").iterator():
        Notification.objects.filter(key=d.key).update(
            emailed_at=d.sent_at, email_error=d.last_error[:300]
        )
    Delivery.objects.exclude(channel="webhook").delete()
    Delivery.objects.filter(status="sent").update(status="succeeded")


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0004_outbox'),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
