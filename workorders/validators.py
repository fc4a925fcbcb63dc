"""Bounds on dates typed into filters and report periods.

Orders exist in this century; a date far outside it is a typo or a probe, and date arithmetic
near the ends of Python's range (year 1, year 9999) overflows (`OverflowError` in the report's
period maths, or when a local time is converted to UTC). One range for every interface that
parses a date: report and export periods, the API's time filters."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def validate_date_in_range(value: date | datetime | None) -> None:
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(
            _("日期须在 %(earliest)s 至 %(latest)s 之间。"),
            code="date_out_of_range",
            params={"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()},
        )
