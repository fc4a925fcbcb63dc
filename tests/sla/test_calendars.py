"""Working-time arithmetic (sla/calendars.py): nights, weekends, the 2026 Spring Festival with
its make-up Saturdays, Asia/Shanghai without daylight saving, and the property that
"due − start counts exactly the target in working time"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendars import (
    CalendarError,
    WorkCalendar,
    add_working,
    parse_hours,
    working_between,
    working_delta,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)

# 2026 Spring Festival (State Council arrangement): off Sun 15 – Mon 23 February, make-up
# working Saturdays 14 and 28 February.
SPRING_OFF = frozenset(date(2026, 2, d) for d in range(15, 24))
SPRING_MAKEUP = frozenset({date(2026, 2, 14), date(2026, 2, 28)})


def week(*days: str) -> tuple:
    return tuple(parse_hours(d) for d in days)


OFFICE = WorkCalendar(  # 5×8 with a lunch break: 7 working hours a day
    weekly=week(*["09:00-12:00, 13:00-17:00"] * 5, "", ""),
    holidays=SPRING_OFF,
    workdays=SPRING_MAKEUP,
)
DESK = WorkCalendar(  # 7×13
    weekly=week(*["08:00-21:00"] * 7), holidays=SPRING_OFF, workdays=SPRING_MAKEUP
)
ALWAYS = WorkCalendar(weekly=week(*["00:00-24:00"] * 7))


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


# --- reading weekly hours ---------------------------------------------------------------------


def test_hours_text_is_read_in_any_usual_notation():
    assert parse_hours("08:00-21:00") == ((8 * 3600 * 10**6, 21 * 3600 * 10**6),)
    assert parse_hours("13:00 - 17:00，09:00~12:00") == parse_hours("09:00-12:00, 13:00-17:00")
    assert parse_hours("00:00-24:00") == ((0, 86400 * 10**6),)
    assert parse_hours("  ") == ()


@pytest.mark.parametrize("text", ["8-21", "21:00-08:00", "09:00-12:00, 11:00-13:00", "25:00-26:00"])
def test_unreadable_or_overlapping_hours_are_refused(text):
    with pytest.raises(CalendarError):
        parse_hours(text)


def test_a_calendar_without_working_time_is_refused():
    with pytest.raises(CalendarError):
        WorkCalendar(weekly=week(*[""] * 7))


# --- nights, weekends, holidays -----------------------------------------------------------------


def test_natural_time_without_a_calendar_is_plain_arithmetic():
    start = sh(2026, 11, 20, 9, 0)
    assert add_working(None, start, 48 * 3600) == start + 48 * H
    assert working_between(None, start, start + 30 * H) == 30 * 3600
    assert working_between(None, start + H, start) == -3600


def test_the_desk_counts_no_night():
    # 20:30 + 1 h: half an hour tonight, half an hour from 08:00 tomorrow.
    assert add_working(DESK, sh(2026, 11, 20, 20, 30), H) == sh(2026, 11, 21, 8, 30)
    # Started at night, the clock starts counting at 08:00.
    assert add_working(DESK, sh(2026, 11, 20, 23, 0), 2 * H) == sh(2026, 11, 21, 10, 0)
    assert working_between(DESK, sh(2026, 11, 20, 20, 0), sh(2026, 11, 21, 9, 0)) == 2 * 3600


def test_an_amount_that_ends_with_the_day_is_due_at_closing_not_next_morning():
    assert add_working(DESK, sh(2026, 11, 20, 20, 0), H) == sh(2026, 11, 20, 21, 0)


def test_the_office_counts_neither_lunch_nor_the_weekend():
    # Friday 16:00 + 3 h: 1 h on Friday, then Monday 09:00–11:00.
    assert add_working(OFFICE, sh(2026, 11, 20, 16, 0), 3 * H) == sh(2026, 11, 23, 11, 0)
    # 11:30 + 1 h crosses lunch: 13:30.
    assert add_working(OFFICE, sh(2026, 11, 23, 11, 30), H) == sh(2026, 11, 23, 13, 30)
    # A whole ordinary week is 35 working hours, from any moment.
    start = sh(2026, 11, 18, 10, 15)
    assert working_between(OFFICE, start, start + timedelta(days=7)) == 35 * 3600


def test_spring_festival_holidays_and_make_up_saturdays():
    # Friday 13 Feb 16:00, 8 h: 1 h Friday + 7 h on the make-up Saturday 14 Feb.
    assert add_working(OFFICE, sh(2026, 2, 13, 16, 0), 8 * H) == sh(2026, 2, 14, 17, 0)
    # One hour more: nothing from Sunday 15 to Monday 23; Tuesday 24 at 10:00.
    assert add_working(OFFICE, sh(2026, 2, 13, 16, 0), 9 * H) == sh(2026, 2, 24, 10, 0)
    # The desk works every day but not on the holidays.
    assert add_working(DESK, sh(2026, 2, 14, 20, 0), 2 * H) == sh(2026, 2, 24, 9, 0)
    # Saturday 28 Feb is worked (make-up), Sunday 1 March is not.
    assert add_working(OFFICE, sh(2026, 2, 27, 16, 0), 2 * H) == sh(2026, 2, 28, 10, 0)
    assert working_between(OFFICE, sh(2026, 2, 28, 0, 0), sh(2026, 3, 2, 0, 0)) == 7 * 3600
    # Holiday week: from Friday 13 Feb 09:00 to Tuesday 24 Feb 09:00 the office works
    # Friday and the make-up Saturday only.
    assert working_between(OFFICE, sh(2026, 2, 13, 9, 0), sh(2026, 2, 24, 9, 0)) == 14 * 3600


def test_long_amounts_cross_many_weeks_and_agree_with_day_by_day_counting():
    start = sh(2026, 1, 5, 10, 0)
    due = add_working(OFFICE, start, 1000 * H)
    assert working_between(OFFICE, start, due) == 1000 * 3600
    # Counted one day at a time, the same total.
    total, day = timedelta(0), start
    while day < due:
        nxt = min(day + timedelta(days=1), due)
        total += working_delta(OFFICE, day, nxt)
        day = nxt
    assert total == 1000 * H


def test_asia_shanghai_has_no_daylight_saving_whatever_zone_the_input_is_in():
    # New York switches to summer time at 02:00 on 8 March 2026; Shanghai does not switch.
    before = datetime(2026, 3, 7, 20, 0, tzinfo=NY)  # Sunday 09:00 in Shanghai
    due = add_working(DESK, before, 24 * H)
    assert due == sh(2026, 3, 9, 20, 0)  # Sunday 09:00–21:00 (12 h), Monday 08:00–20:00
    assert due == add_working(DESK, before.astimezone(UTC), 24 * H)
    # A 7×24 calendar is natural (elapsed) time exactly, across New York's switch: 30 hours
    # later in absolute time (New York wall clocks move on 31 hours).
    after = before.astimezone(UTC) + 30 * H
    assert add_working(ALWAYS, before, 30 * H) == after
    assert working_between(ALWAYS, before, after) == 30 * 3600
    assert (after.astimezone(NY).replace(tzinfo=None) - before.replace(tzinfo=None)) == 31 * H


# --- properties -----------------------------------------------------------------------------------

hm = st.integers(0, 24 * 4).map(lambda q: q * 15 * 60 * 10**6)  # quarter hours


@st.composite
def day_hours(draw):
    cuts = sorted(set(draw(st.lists(hm, min_size=0, max_size=4))))
    pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a]
    return tuple(pairs)


@st.composite
def calendars(draw):
    weekly = [draw(day_hours()) for _ in range(7)]
    if not any(weekly):
        weekly[draw(st.integers(0, 6))] = ((9 * 3600 * 10**6, 17 * 3600 * 10**6),)
    span = st.dates(date(2026, 1, 1), date(2026, 4, 30))
    holidays = draw(st.frozensets(span, max_size=25))
    workdays = draw(st.frozensets(span, max_size=6)) - holidays
    return WorkCalendar(weekly=tuple(weekly), holidays=holidays, workdays=workdays)


starts = st.datetimes(
    min_value=datetime(2025, 12, 25), max_value=datetime(2026, 5, 1), timezones=st.just(SH)
)
amounts = st.integers(0, 400 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), start=starts, amount=amounts)
def test_due_minus_start_counts_exactly_the_target_in_working_time(cal, start, amount):
    due = add_working(cal, start, amount)
    assert working_delta(cal, start, due) == amount
    if amount:
        # And it is the earliest such instant: a microsecond before, the target is not reached.
        assert working_delta(cal, start, due - timedelta(microseconds=1)) < amount


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=starts, a=amounts, b=amounts)
def test_adding_in_two_steps_is_adding_once(cal, start, a, b):
    """Pauses and extensions move a stored due time by their working length; that agrees with
    recomputing from the start."""
    assert add_working(cal, add_working(cal, start, a), b) == add_working(cal, start, a + b)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), a=starts, b=starts)
def test_working_time_is_antisymmetric_and_never_exceeds_wall_time(cal, a, b):
    assert working_delta(cal, a, b) == -working_delta(cal, b, a)
    assert abs(working_delta(cal, a, b)) <= abs(b - a)
