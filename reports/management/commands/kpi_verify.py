"""Compare the daily KPI roll-up with the live figures; exit 1 on any difference."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from reports import kpis, rollup
from reports.models import KpiDaily


class Command(BaseCommand):
    help = (
        "Compare the daily KPI roll-up with the figures computed live from the orders, in "
        "total and grouped by each dimension; exit status 1 when they differ."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--by",
            action="append",
            choices=["total", *rollup.DIM_FIELDS],
            help="only these groupings (default: total and every dimension)",
        )
        parser.add_argument(
            "--user",
            dest="usernames",
            action="append",
            metavar="USERNAME",
            help="also compare as this user sees the figures (a lead: his subtree's cells "
            "plus his other orders live, against his live figures); repeatable",
        )

    def handle(self, *args, start, end, by, usernames, **options):
        if not rollup.is_built():
            raise CommandError("The KPI roll-up has not been built: run kpi_rebuild.")
        days = KpiDaily.objects.order_by("day").values_list("day", flat=True)
        start = start or days.first() or date.today()
        end = end or days.last() or start
        if end < start:
            raise CommandError("--to is before --from")
        period = kpis.period_for("custom", start=start, end=end)
        groups = None if by is None else [None if g == "total" else g for g in by]
        problems = rollup.verify(period=period, by=groups)
        for username in usernames or ():
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user {username!r}.")
            if not rollup.serves(user=user, period=period, scope=kpis.Scope()):
                raise CommandError(f"The roll-up does not serve {username!r}'s figures.")
            problems += [
                f"[{username}] {p}" for p in rollup.verify(period=period, by=groups, user=user)
            ]
        for p in problems[:200]:
            self.stderr.write(p)
        if problems:
            self.stderr.write(f"{len(problems)} differences between the roll-up and live SQL")
            raise SystemExit(1)
        self.stdout.write(f"KPI roll-up equals the live figures for {period.label}")
