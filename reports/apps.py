from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = _("报表与导出")

    def ready(self) -> None:
        from workorders import events
        from workorders.demo import register_demo_step

        from . import rollup
        from .demo import seed_kpi_rollup

        # The KPI roll-up follows every audited change of an order, a new order and a risk
        # alert raised by the SLA sweep (the one count that moves without an audit row).
        for kind in (events.AUDITED, events.RISK_ALERT):
            events.subscribe(kind, rollup.on_order_changed)
        events.subscribe(events.REPORTED, rollup.on_order_reported)
        # After every other demo step: the roll-up is built from the demo's orders.
        register_demo_step(seed_kpi_rollup, order=10_000)
