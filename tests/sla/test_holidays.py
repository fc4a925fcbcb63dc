"""China's holidays and make-up working days come from the `chinese-calendar` package through
`manage.py load_holidays`; a year the package does not know is refused, saying so."""

from __future__ import annotations

from datetime import date
from io import StringIO

import chinese_calendar
import pytest
from django.core.management import CommandError, call_command

from sla.models import Calendar, CalendarDay
from sla.reference import calendar_of

pytestmark = pytest.mark.django_db

LAST_KNOWN = max(d.year for d in chinese_calendar.holidays)


@pytest.fixture
def desk():
    return Calendar.objects.create(
        code="desk",
        name="坐席",
        **{f"hours_{d}": "08:00-21:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )


def days(cal, kind):
    return set(CalendarDay.objects.filter(calendar=cal, kind=kind).values_list("date", flat=True))


def test_load_2026_gives_the_spring_festival_and_its_make_up_saturdays(desk):
    out = StringIO()
    call_command("load_holidays", "--year", "2026", "--calendar", "desk", stdout=out)
    holidays, workdays = days(desk, "holiday"), days(desk, "workday")
    assert {date(2026, 2, d) for d in range(15, 24)} <= holidays
    assert {date(2026, 2, 14), date(2026, 2, 28)} <= workdays
    assert date(2026, 10, 1) in holidays and date(2026, 3, 2) not in holidays | workdays
    assert CalendarDay.objects.get(calendar=desk, date=date(2026, 2, 17)).name == "春节"
    assert f"desk: 2026: {len(holidays)} holidays, {len(workdays)} make-up" in out.getvalue()
    # The calendar in use sees them at once.
    assert not calendar_of(desk.pk).is_working_day(date(2026, 2, 17))


def test_loaded_days_stay_editable_and_a_reload_keeps_days_entered_by_hand(desk):
    call_command("load_holidays", "--year", "2026", stdout=StringIO())
    CalendarDay.objects.create(calendar=desk, date=date(2026, 3, 8), kind="holiday", name="店庆")
    CalendarDay.objects.filter(calendar=desk, date=date(2026, 2, 14)).update(kind="holiday")
    call_command("load_holidays", "--year", "2026", stdout=StringIO())
    assert CalendarDay.objects.get(calendar=desk, date=date(2026, 3, 8)).name == "店庆"
    # The official day is put back as the package has it.
    assert CalendarDay.objects.get(calendar=desk, date=date(2026, 2, 14)).kind == "workday"


@pytest.mark.parametrize("year", [LAST_KNOWN + 1, 1999])
def test_a_year_the_package_does_not_know_is_refused_saying_so(desk, year):
    with pytest.raises(CommandError) as exc:
        call_command("load_holidays", "--year", str(year), stdout=StringIO())
    message = str(exc.value)
    assert str(year) in message and "chinese-calendar" in message and str(LAST_KNOWN) in message
    assert not CalendarDay.objects.exists()


def test_an_unknown_calendar_code_is_refused(desk):
    with pytest.raises(CommandError, match="nope"):
        call_command("load_holidays", "--year", "2026", "--calendar", "nope", stdout=StringIO())


def _round_the_clock():
    return Calendar.objects.create(
        code="noc",
        name="网管7x24",
        **{f"hours_{d}": "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )


def test_calendars_missing_this_or_next_years_holidays_are_named(desk):
    from sla.selectors import calendars_missing_holidays

    _round_the_clock()  # no holidays in any year: never asked for them
    CalendarDay.objects.create(calendar=desk, date=date(2026, 10, 1), kind="holiday", name="国庆")
    # October: only this year matters, and it has a holiday.
    assert calendars_missing_holidays(date(2026, 10, 31)) == []
    # From November on, next year's are asked for.
    assert calendars_missing_holidays(date(2026, 11, 1)) == [(2027, [desk])]
    CalendarDay.objects.create(calendar=desk, date=date(2027, 1, 1), kind="holiday", name="元旦")
    assert calendars_missing_holidays(date(2026, 12, 5)) == []
    # A new year whose holidays were never loaded.
    assert calendars_missing_holidays(date(2028, 3, 1)) == [(2028, [desk])]


def test_the_calendar_list_warns_about_a_year_without_holidays(desk, admin_client):
    import time_machine

    CalendarDay.objects.create(calendar=desk, date=date(2026, 10, 1), kind="holiday", name="国庆")
    with time_machine.travel(date(2026, 12, 5), tick=False):
        response = admin_client.get("/admin/sla/calendar/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    shown = [str(m) for m in response.context["messages"]]
    assert any("坐席 还没有 2027 年的法定节假日" in m for m in shown), shown
    with time_machine.travel(date(2026, 10, 5), tick=False):
        response = admin_client.get("/admin/sla/calendar/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert not [str(m) for m in response.context["messages"]]
