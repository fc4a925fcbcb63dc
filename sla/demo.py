"""SLA demo data (DESIGN.md §11 seeds), idempotent: a 7×13 desk calendar with China's holidays
of the years the holiday package knows, the channel-service line signing for on that desk's
hours, and the social-media promise rules. The 15-minute first-response rule of online channels
is the fallback every deployment gets from the migrations."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import Department

from .models import Calendar, DepartmentCalendar, SlaPolicy, Tier
from .services import HolidaySourceError, calendar_load_holidays, sla_rule_save

DESK = {
    "code": "desk_7x13",
    "name": "客服坐席 7×13",
    **{f"hours_{d}": "08:00-21:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
DESK_DEPARTMENT = "channel"  # 渠道服务: its sign-for clocks count the desk's hours
HOLIDAY_YEARS = (2026, 2027)

# (note, kind, urgency, channel, tier, minutes)
RULES = [
    ("重点社交媒体投诉(VIP)", "promise", "general", "social", Tier.VIP, 16 * 60),
    ("普通社交媒体投诉", "promise", "general", "social", "", 36 * 60),
]


@dataclass
class SlaSeed:
    holiday_years: list[int] = field(default_factory=list)
    skipped_years: list[str] = field(default_factory=list)


def seed_sla_demo() -> SlaSeed:
    result = SlaSeed()
    desk, _created = Calendar.objects.update_or_create(
        code=DESK["code"], defaults={k: v for k, v in DESK.items() if k != "code"}
    )
    for year in HOLIDAY_YEARS:
        try:
            calendar_load_holidays(calendar=desk, year=year)
            result.holiday_years.append(year)
        except HolidaySourceError as exc:
            result.skipped_years.append(str(exc))
    department = Department.objects.filter(code=DESK_DEPARTMENT).first()
    if department is not None:
        DepartmentCalendar.objects.update_or_create(
            department=department, defaults={"calendar": desk}
        )
    for note, kind, urgency, channel, tier, minutes in RULES:
        exists = SlaPolicy.objects.filter(
            active=True,
            kind=kind,
            urgency=urgency,
            channel=channel,
            tier=tier,
            category__isnull=True,
            category_group__isnull=True,
        ).exists()
        if not exists:
            sla_rule_save(
                rule=SlaPolicy(
                    kind=kind,
                    urgency=urgency,
                    channel=channel,
                    tier=tier,
                    target_minutes=minutes,
                    note=note,
                )
            )
    return result
