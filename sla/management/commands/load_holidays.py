"""Load China's statutory holidays and make-up working days (调休) of a year into a business
calendar, from the `chinese-calendar` package. The days stay editable in the admin."""

from django.core.management.base import BaseCommand, CommandError

from sla.models import Calendar
from sla.services import HolidaySourceError, calendar_load_holidays


class Command(BaseCommand):
    help = "Load China's holidays and make-up working days of --year into calendars."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, action="append")
        parser.add_argument(
            "--calendar",
            action="append",
            help="calendar code (repeatable; default: every calendar)",
        )

    def handle(self, *args, year, calendar, **options):
        calendars = Calendar.objects.all()
        if calendar:
            calendars = calendars.filter(code__in=calendar)
            missing = set(calendar) - set(calendars.values_list("code", flat=True))
            if missing:
                raise CommandError(f"no calendar with code {', '.join(sorted(missing))}")
        calendars = list(calendars)
        if not calendars:
            raise CommandError("no calendar to load into: create one in the admin first")
        for y in year:
            for cal in calendars:
                try:
                    holidays, workdays = calendar_load_holidays(calendar=cal, year=y)
                except HolidaySourceError as exc:
                    raise CommandError(str(exc)) from None
                self.stdout.write(
                    f"{cal.code}: {y}: {holidays} holidays, {workdays} make-up working days"
                )
