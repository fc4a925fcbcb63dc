from django.conf import settings
from django.core.management.base import BaseCommand

from workorders.demo import ACCOUNTS, LISTED_ACCOUNTS, seed_demo


class Command(BaseCommand):
    help = "Create demo departments, categories, accounts and orders (idempotent)."

    def handle(self, *args, **options):
        result = seed_demo()
        self.stdout.write(
            f"Demo orders: {result.created_orders} created, {result.skipped_orders} already there."
        )
        for note in result.sla_notes:  # e.g. a holiday year the package does not know yet
            self.stdout.write(f"Note: {note}")
        self.stdout.write(f"Demo accounts (password: {settings.DEMO_PASSWORD}):")
        for username, name, roles, _dept in ACCOUNTS:
            if username in LISTED_ACCOUNTS:
                roles_text = ", ".join(str(r) for r in roles)
                self.stdout.write(f"  {username:<17} {name}  {roles_text}")
        self.stdout.write(f"  {'admin':<17} superuser (reference data)")
        for line in result.notes:
            self.stdout.write(line)
