"""One outbox for every channel: webhook deliveries become `Delivery` rows (channel webhook),
their attempts `DeliveryAttempt`; e-mail joins them in 0005."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0003_notification_texts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('workorders', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='webhookdelivery', name='webhook_due'),
        migrations.RenameModel('WebhookDelivery', 'Delivery'),
        migrations.RenameModel('WebhookAttempt', 'DeliveryAttempt'),
        migrations.RenameField('delivery', 'delivered_at', 'sent_at'),
        migrations.AddField(
            model_name='delivery',
            name='channel',
            field=models.CharField(choices=[('email', '邮件'), ('webhook', 'Webhook'), ('sms', '短信')], default='webhook', max_length=16, verbose_name='渠道'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='delivery',
            name='recipient',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='收件人'),
        ),
        migrations.AddField(
            model_name='delivery',
            name='address',
            field=models.CharField(blank=True, max_length=254, verbose_name='发往'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='endpoint',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='notifications.webhookendpoint', verbose_name='Webhook 接收端'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='key',
            field=models.CharField(max_length=200, verbose_name='幂等键'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='kind',
            field=models.CharField(max_length=32, verbose_name='类型'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='status',
            field=models.CharField(choices=[('pending', '待发送'), ('sent', '已发送'), ('failed', '发送失败')], default='pending', max_length=16, verbose_name='状态'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='sent_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='发送时间'),
        ),
        migrations.AlterModelOptions(
            name='delivery',
            options={'ordering': ['-created_at', '-id'], 'verbose_name': '投递', 'verbose_name_plural': '投递'},
        ),
        migrations.AlterModelOptions(
            name='deliveryattempt',
            options={'ordering': ['at', 'id'], 'verbose_name': '投递尝试', 'verbose_name_plural': '投递尝试'},
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(fields=('channel', 'key'), name='delivery_channel_key'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='delivery_due'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status', 'failed')), fields=['created_at'], name='delivery_failed'),
        ),
    ]
