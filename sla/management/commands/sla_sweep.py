from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sla.engine import sla_sweep


class Command(BaseCommand):
    help = "Run one SLA sweep synchronously (for cron users and tests)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="ISO 8601 instant to sweep at (default: now); naive times are Asia/Shanghai",
        )
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, now=None, batch_size=None, **options):
        when = None
        if now:
            try:
                when = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: not an ISO 8601 time: {now!r}") from exc
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
        result = sla_sweep(now=when, batch_size=batch_size)
        for key, value in result.as_dict().items():
            if key != "errors":
                self.stdout.write(f"{key}: {value}")
        for error in result.errors:
            self.stderr.write(error)
