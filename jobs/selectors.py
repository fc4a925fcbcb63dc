from datetime import datetime

from .models import JobRun


def job_runs() -> list[JobRun]:
    """Every job's last run (a handful of rows)."""
    return list(JobRun.objects.all())


def last_success(name: str) -> datetime | None:
    """When the job last completed, or None if it never has."""
    return JobRun.objects.filter(name=name).values_list("last_success_at", flat=True).first()
