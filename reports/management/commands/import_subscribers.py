import csv

from django.core.management.base import BaseCommand, CommandError

from reports.services import subscribers_import


class Command(BaseCommand):
    help = "Import subscribers per region and month (CSV: region,month,subscribers; month YYYY-MM)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file (UTF-8, with a header row)")

    def handle(self, *args, path, **options):
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                created, updated = subscribers_import(rows=csv.DictReader(fh))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Subscriber counts: {created} created, {updated} updated.")
