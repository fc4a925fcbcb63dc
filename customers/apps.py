from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    """The customer's side of the loop: the status page, the customer's notes, the
    satisfaction survey and the texts that tell the customer what happened. Sits above
    `workorders` and `notifications` (imports them; never imported by them)."""

    name = "customers"
    verbose_name = _("客户进度查询")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from workorders import demo, events
        from workorders.models import AuditEntry
        from workorders.selectors import register_timeline_source

        from . import messaging
        from .demo import seed_customer_demo, seed_sms_demo
        from .selectors import ticket_customer_timeline
        from .services import on_reported, on_transition

        events.subscribe(events.REPORTED, on_reported)
        events.subscribe(events.TRANSITION, on_transition)
        register_timeline_source(ticket_customer_timeline)
        demo.register_demo_step(seed_customer_demo)
        # The texts to the customer (after the link exists).
        events.subscribe(events.REPORTED, messaging.on_reported)
        events.subscribe(events.TRANSITION, messaging.on_transition)
        # An approved extension publishes no event (it is not a transition): its audit row.
        post_save.connect(
            messaging.on_audit_saved, sender=AuditEntry, dispatch_uid="customers.sms.extend"
        )
        # Last: the texts of every app's demo orders (mass faults' too) go out together.
        demo.register_demo_step(seed_sms_demo, order=1000)
