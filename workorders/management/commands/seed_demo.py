from django.conf import settings
from django.core.management.base import BaseCommand

from workorders.demo import ACCOUNTS, seed_demo


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
        for username, name, roles, _dept in ACCOUNTS[:6]:
            self.stdout.write(f"  {username:<12} {name}  {', '.join(str(r) for r in roles)}")
        self.stdout.write("  admin        superuser (reference data)")
        for line in result.notes:
            self.stdout.write(line)
