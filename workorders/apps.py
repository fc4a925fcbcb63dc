from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class WorkordersConfig(AppConfig):
    name = "workorders"
    verbose_name = pgettext_lazy("plural", "工单")

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from accounts.copies import watch
        from accounts.models import Department

        from .models import Category
        from .services import intake, risk

        # The escalation-risk score follows the order's events.
        risk.subscribe()
        # The per-process copy of the categories with their routing departments.
        watch(Category, intake.CATEGORIES)
        watch(Department, intake.CATEGORIES)

        # Deliberately the photo limit (Pillow's default is ~89 MP, with only a warning below
        # twice that): no Pillow call in this process decodes a larger picture.
        Image.MAX_IMAGE_PIXELS = settings.ATTACHMENT_MAX_PIXELS
        try:
            from pillow_heif import register_heif_opener
        except ImportError:  # pragma: no cover - a dependency; HEIC photos are then refused
            pass
        else:
            register_heif_opener()
