from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = pgettext_lazy("plural", "通知")

    def ready(self) -> None:
        # Listen to what happens to orders; `workorders` publishes and never imports us.
        from workorders import events
        from workorders.selectors import register_timeline_source

        from .models import Channel
        from .outbox import register_sender
        from .selectors import ticket_notifications_timeline
        from .services import (
            email_send,
            notify_chase,
            notify_recorded,
            notify_risk_alert,
            notify_transition,
            webhook_send,
        )

        events.subscribe(events.TRANSITION, notify_transition)
        from workorders.demo import register_demo_step

        from .digest import seed_demo_history_read

        register_demo_step(seed_demo_history_read, order=2000)
        events.subscribe(events.CHASE, notify_chase)
        events.subscribe(events.RECORDED, notify_recorded)
        events.subscribe(events.RISK_ALERT, notify_risk_alert)
        register_timeline_source(ticket_notifications_timeline)
        # What the outbox relay sends, by channel.
        register_sender(Channel.EMAIL, email_send)
        register_sender(Channel.WEBHOOK, webhook_send)
        from django.conf import settings

        from .sms_channel import sms_send
        from .sms_selectors import ticket_customer_messages_timeline

        register_sender(Channel.SMS, sms_send, max_attempts=settings.SMS_MAX_ATTEMPTS)
        from accounts.copies import watch

        from .models import SmsTemplate
        from .sms_channel import ACTIVE_TEMPLATES

        watch(SmsTemplate, ACTIVE_TEMPLATES)
        register_timeline_source(ticket_customer_messages_timeline)
