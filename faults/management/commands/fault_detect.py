from django.core.management.base import BaseCommand
from django.utils.dateparse import parse_datetime

from faults.detection import fault_detect


class Command(BaseCommand):
    help = "Run one mass-fault detection (what beat runs every FAULTS_DETECT_SECONDS)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO time to detect at (default: now)")

    def handle(self, *args, **options):
        now = parse_datetime(options["now"]) if options.get("now") else None
        result = fault_detect(now=now)
        self.stdout.write(str(result.as_dict()))
