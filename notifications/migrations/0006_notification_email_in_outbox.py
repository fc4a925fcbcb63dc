from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0005_outbox_data'),
    ]

    operations = [
        migrations.RemoveField(model_name='notification', name='emailed_at'),
        migrations.RemoveField(model_name='notification', name='email_error'),
    ]
