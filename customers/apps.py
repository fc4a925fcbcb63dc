from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    """The customer's side of the loop: the status page, the customer's notes and the
    satisfaction survey. Sits above `workorders` (imports it; never imported by it)."""

    name = "customers"
    verbose_name = _("客户进度查询")

    def ready(self) -> None:
        from workorders import demo, events
        from workorders.selectors import register_timeline_source

        from .demo import seed_customer_demo
        from .selectors import ticket_customer_timeline
        from .services import on_reported, on_transition

        events.subscribe(events.REPORTED, on_reported)
        events.subscribe(events.TRANSITION, on_transition)
        register_timeline_source(ticket_customer_timeline)
        demo.register_demo_step(seed_customer_demo)
