"""Working-time arithmetic over a business calendar (DESIGN.md §11), as pure functions.

A calendar is weekly working hours (intervals per weekday), statutory holidays (no working time
at all) and make-up working days (调休: a weekend day worked as a weekday), all in
Asia/Shanghai local time, which has had no daylight saving since 1991: a local day is always
24 hours, so local clock arithmetic is exact. `None` for a calendar means natural time (7×24),
and every function then gives exactly what plain datetime arithmetic gives.

Cost follows the number of days crossed, not minutes; runs of ordinary weeks (no holiday or
make-up day in them) are crossed a week at a time.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
US = 1_000_000  # microseconds per second
DAY_US = 86_400 * US
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[int, int]  # microseconds after local midnight, start < end <= 24:00


class CalendarError(ValueError):
    """A weekly-hours text that cannot be read, or a calendar without working time."""


_SPLIT = re.compile(r"[,，;；、\s]+")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~～至]\s*(\d{1,2}):(\d{2})$")


def parse_hours(text: str) -> tuple[Interval, ...]:
    """'08:00-21:00' or '09:00-12:00, 13:30-17:30' (blank: no working time that day)."""
    text = (text or "").strip()
    if not text:
        return ()
    # A range may be written with spaces around its dash; join those before splitting.
    text = re.sub(r"\s*([-–~～至])\s*", r"\1", text)
    out: list[Interval] = []
    for part in filter(None, _SPLIT.split(text)):
        m = _RANGE.match(part)
        if not m:
            raise CalendarError(part)
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
            raise CalendarError(part)
        start, end = (h1 * 3600 + m1 * 60) * US, (h2 * 3600 + m2 * 60) * US
        if end <= start:
            raise CalendarError(part)
        out.append((start, end))
    out.sort()
    for (_s1, e1), (s2, _e2) in pairwise(out):
        if s2 < e1:
            raise CalendarError(text)
    return tuple(out)


def format_hours(intervals: Iterable[Interval]) -> str:
    def hm(us: int) -> str:
        s = us // US
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

    return ", ".join(f"{hm(s)}-{hm(e)}" for s, e in intervals)


@dataclass(frozen=True)
class WorkCalendar:
    """Weekly hours (Monday first), holidays and make-up working days. A make-up day works its
    own weekday's hours when it has any (a 7-day desk), otherwise an ordinary weekday's (the
    first of Monday–Friday with hours)."""

    weekly: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    id: int | None = None
    code: str = ""
    name: str = ""
    _week_us: int = field(init=False, repr=False, compare=False)
    _makeup: tuple[Interval, ...] = field(init=False, repr=False, compare=False)
    _special: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise CalendarError("weekly hours need seven days")
        week = sum(e - s for day in self.weekly for s, e in day)
        if week <= 0:
            raise CalendarError("no working time")
        makeup = next((d for d in self.weekly[:5] if d), next(d for d in self.weekly if d))
        object.__setattr__(self, "_week_us", week)
        object.__setattr__(self, "_makeup", makeup)
        object.__setattr__(self, "_special", tuple(sorted(self.holidays | self.workdays)))

    # ------------------------------------------------------------------ days

    def intervals(self, day: date) -> tuple[Interval, ...]:
        if day in self.holidays:
            return ()
        own = self.weekly[day.weekday()]
        if day in self.workdays and not own:
            return self._makeup
        return own

    def is_working_day(self, day: date) -> bool:
        return bool(self.intervals(day))

    def _ordinary_week_from(self, day: date) -> bool:
        """No holiday or make-up day in [day, day + 7): the week holds exactly the weekly hours."""
        i = bisect_left(self._special, day)
        return i == len(self._special) or self._special[i] >= day + timedelta(days=7)

    def _weeks_clear_from(self, day: date) -> int:
        """How many whole ordinary weeks start at `day`."""
        i = bisect_left(self._special, day)
        if i == len(self._special):
            return 1 << 30
        return (self._special[i] - day).days // 7

    # ------------------------------------------------------------------ arithmetic

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant by which `amount` of working time has passed since `start`."""
        remaining = _us(amount)
        if remaining < 0:
            raise ValueError("negative working time")
        if remaining == 0:
            return start
        day, pos = _local(start)
        while True:
            if pos == 0 and remaining > self._week_us:
                weeks = min((remaining - 1) // self._week_us, self._weeks_clear_from(day))
                if weeks:
                    remaining -= weeks * self._week_us
                    day += timedelta(days=7 * weeks)
            for s, e in self.intervals(day):
                if e <= pos:
                    continue
                s = max(s, pos)
                if remaining <= e - s:
                    return _instant(day, s + remaining)
                remaining -= e - s
            day += timedelta(days=1)
            pos = 0

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b` (negative when `b` is before `a`)."""
        if b < a:
            return -self.between(b, a)
        da, pa = _local(a)
        db, pb = _local(b)
        if da == db:
            return timedelta(microseconds=_overlap(self.intervals(da), pa, pb))
        total = _overlap(self.intervals(da), pa, DAY_US)
        day = da + timedelta(days=1)
        while day < db:
            if (db - day).days >= 7 and self._ordinary_week_from(day):
                weeks = min((db - day).days // 7, self._weeks_clear_from(day))
                total += weeks * self._week_us
                day += timedelta(days=7 * weeks)
                continue
            total += sum(e - s for s, e in self.intervals(day))
            day += timedelta(days=1)
        total += _overlap(self.intervals(db), 0, pb)
        return timedelta(microseconds=total)


def _us(amount: timedelta | float | int) -> int:
    if isinstance(amount, timedelta):
        return (amount.days * 86_400 + amount.seconds) * US + amount.microseconds
    return round(amount * US)


def _local(moment: datetime) -> tuple[date, int]:
    local = moment.astimezone(SH)
    us = (local.hour * 3600 + local.minute * 60 + local.second) * US + local.microsecond
    return local.date(), us


def _instant(day: date, us: int) -> datetime:
    return datetime.combine(day, time(), tzinfo=SH) + timedelta(microseconds=us)


def _overlap(intervals: Iterable[Interval], lo: int, hi: int) -> int:
    return sum(max(0, min(e, hi) - max(s, lo)) for s, e in intervals)


# ---------------------------------------------------------------------- the two entry points


def add_working(
    calendar: WorkCalendar | None, start: datetime, amount: timedelta | float | int
) -> datetime:
    """`start` plus `amount` (a timedelta or seconds) of working time; natural time without a
    calendar."""
    if calendar is None:
        return start + (amount if isinstance(amount, timedelta) else timedelta(seconds=amount))
    return calendar.add(
        start, amount if isinstance(amount, timedelta) else timedelta(seconds=amount)
    )


def working_delta(calendar: WorkCalendar | None, a: datetime, b: datetime) -> timedelta:
    """Working time between two instants (negative when `b` < `a`); natural without a calendar."""
    if calendar is None:
        return b - a
    return calendar.between(a, b)


def working_between(calendar: WorkCalendar | None, a: datetime, b: datetime) -> float:
    """Seconds of working time between two instants (negative when `b` < `a`)."""
    return working_delta(calendar, a, b).total_seconds()
