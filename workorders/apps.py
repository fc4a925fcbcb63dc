from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class WorkordersConfig(AppConfig):
    name = "workorders"
    verbose_name = pgettext_lazy("plural", "工单")
