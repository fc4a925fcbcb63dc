from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class FaultsConfig(AppConfig):
    name = "faults"
    verbose_name = pgettext_lazy("plural", "群障")

    def ready(self) -> None:
        from workorders.demo import register_demo_step

        from . import events
        from .demo import seed_faults
        from .notify import notify_fault, notify_faults, tell_customers_eta

        events.subscribe(events.FAULT, notify_fault)
        events.subscribe(events.FAULT_BATCH, notify_faults)
        # The customers of linked orders hear each ETA change once (the SMS channel).
        events.subscribe(events.FAULT_ETA_CHANGED, tell_customers_eta)
        register_demo_step(seed_faults)
