from celery import shared_task

from . import uploads


@shared_task
def uploads_sweep_task() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE "web-uploads-sweep"): forget expired kept photos."""
    return uploads.kept_uploads_sweep()
