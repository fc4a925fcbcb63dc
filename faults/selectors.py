"""Reads with a rule: who sees which faults, which open fault a new report belongs to, the
board, and the fault report's figures (in SQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Role
from sla.models import SlaStatus
from sla.selectors import sla_status_expression
from workorders.models import OPEN_STATES, Category, Ticket
from workorders.selectors import tickets_visible_to

from .geo import distance_m
from .models import OPEN_FAULT_STATES, Fault, FaultLink, FaultState
from .permissions import sees_all_faults


def faults_visible_to(user, qs: QuerySet[Fault] | None = None) -> QuerySet[Fault]:
    """Dispatchers, supervisors and auditors see every fault; leads and handlers the faults
    of their department's subtree; nobody else any."""
    qs = Fault.objects.all() if qs is None else qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser or sees_all_faults(user):
        return qs
    if not user.has_perm("faults.view_fault"):
        return qs.none()
    if user.roles & {Role.LEAD, Role.HANDLER} and user.department_id:
        return qs.filter(department__path__startswith=user.department.path)
    return qs.none()


def active_link_q(prefix: str = "") -> Exists:
    """The order (at `prefix`, e.g. "ticket__") is linked to a fault that was not dismissed
    (dismissing releases the orders)."""
    ref = OuterRef(prefix.rstrip("_") + "_id") if prefix else OuterRef("pk")
    return Exists(FaultLink.objects.filter(ticket=ref, unlinked_at__isnull=True))


def fault_of_ticket(ticket: Ticket) -> Fault | None:
    link = (
        FaultLink.objects.filter(ticket=ticket, unlinked_at__isnull=True)
        .select_related("fault", "fault__category")
        .first()
    )
    return link.fault if link else None


def area_matches(fault: Fault, *, region: str, lat, lng, radius: float | None = None) -> bool:
    """Same district (for a fault found by district), or within the fault's radius (at least
    the detection radius) of its centre."""
    radius = radius if radius is not None else settings.FAULTS_RADIUS_METERS
    region = (region or "").strip()
    if fault.by_district and region and region == fault.region:
        return True
    if fault.center_lat is None or fault.center_lng is None or lat is None or lng is None:
        return False
    reach = max(fault.radius_m or 0, radius)
    d = distance_m(float(fault.center_lat), float(fault.center_lng), float(lat), float(lng))
    return d <= reach


def fault_matching(*, category, region: str = "", lat=None, lng=None) -> Fault | None:
    """The open fault a report in this category and area belongs to: confirmed before
    suspected, then the most recent."""
    if category is None:
        return None
    candidates = sorted(
        Fault.objects.filter(category=category, state__in=OPEN_FAULT_STATES).select_related(
            "category"
        ),
        key=lambda f: (f.state != FaultState.CONFIRMED, -f.detected_at.timestamp()),
    )
    for fault in candidates:
        if area_matches(fault, region=region, lat=lat, lng=lng):
            return fault
    return None


def fault_hint_text(fault: Fault) -> str:
    if fault.eta:
        return _("该区域已有群障 %(number)s，预计 %(eta)s 恢复。") % {
            "number": fault.number,
            "eta": timezone.localtime(fault.eta).strftime("%H:%M"),
        }
    return _("该区域已有群障 %(number)s，正在处理中。") % {"number": fault.number}


# --------------------------------------------------------------------------- the board

SLA_SEVERITY = [
    SlaStatus.BREACHED,
    SlaStatus.AT_RISK,
    SlaStatus.ON_TRACK,
    SlaStatus.MISSED,
    SlaStatus.MET,
]


@dataclass
class BoardRow:
    fault: Fault
    open_children: int = 0
    worst_sla: str | None = None
    sla_counts: dict = field(default_factory=dict)


def board_order(qs: QuerySet[Fault]) -> list[Fault]:
    """Suspected first (newest detection first), then confirmed by age (oldest first), then
    the rest (most recent first)."""
    faults = list(qs)
    rank = {FaultState.SUSPECTED: 0, FaultState.CONFIRMED: 1}

    def key(f: Fault):
        r = rank.get(f.state, 2)
        t = f.detected_at.timestamp()
        return (r, -t if r in (0, 2) else (f.confirmed_at or f.detected_at).timestamp())

    return sorted(faults, key=key)


def children_sla(faults: list[Fault], *, now: datetime | None = None) -> dict[int, BoardRow]:
    """Per fault: open children and the worst promise status among its children, in one query."""
    now = now or timezone.now()
    rows = {f.pk: BoardRow(f) for f in faults}
    if not rows:
        return rows
    links = (
        FaultLink.objects.filter(fault_id__in=list(rows), unlinked_at__isnull=True)
        .annotate(sla=sla_status_expression("ticket__promise_clock__", now))
        .values("fault_id", "sla", "ticket__state")
    )
    for r in links:
        row = rows[r["fault_id"]]
        if r["ticket__state"] in OPEN_STATES:
            row.open_children += 1
        if r["sla"]:
            row.sla_counts[r["sla"]] = row.sla_counts.get(r["sla"], 0) + 1
    for row in rows.values():
        for status in SLA_SEVERITY:
            if row.sla_counts.get(status):
                row.worst_sla = status
                break
    return rows


def board(user, *, show: str = "open", now: datetime | None = None) -> list[BoardRow]:
    qs = faults_visible_to(user).select_related("category", "category__parent", "department")
    if show == "open":
        qs = qs.filter(state__in=OPEN_FAULT_STATES)
    elif show in FaultState.values:
        qs = qs.filter(state=show)
    faults = board_order(qs[:500])
    rows = children_sla(faults, now=now)
    return [rows[f.pk] for f in faults]


def board_counts(user) -> dict[str, int]:
    counts = dict(faults_visible_to(user).values_list("state").annotate(n=Count("pk")).order_by())
    return {s: counts.get(s, 0) for s in FaultState.values}


def link_candidates(fault: Fault, user, *, limit: int = 50) -> list[Ticket]:
    """Open, unlinked orders of the fault's category group that the user may see, in its area
    and recent (detection window before the first report, up to now): the bulk-link list."""
    group = fault.category.parent_id or fault.category_id
    since = (fault.first_reported_at or fault.detected_at) - timedelta(
        minutes=settings.FAULTS_WINDOW_MINUTES
    )
    qs = (
        tickets_visible_to(user)
        .filter(
            Q(category_id=group) | Q(category__parent_id=group),
            state__in=OPEN_STATES,
            reported_at__gte=since,
        )
        .exclude(Exists(FaultLink.objects.filter(ticket=OuterRef("pk"), unlinked_at__isnull=True)))
        .select_related("category")
        .order_by("-reported_at")
    )
    out = []
    for t in qs[:2000]:
        if (fault.region and t.customer_region == fault.region) or area_matches(
            fault, region=t.customer_region, lat=t.latitude, lng=t.longitude
        ):
            out.append(t)
            if len(out) >= limit:
                break
    return out


# --------------------------------------------------------------------------- the report


def _duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


@dataclass
class FaultReportRow:
    key: object
    label: str
    detected: int = 0
    confirmed: int = 0
    dismissed: int = 0
    resolved: int = 0
    orders: int = 0
    customers: int = 0
    detect_seconds: float | None = None
    restore_seconds: float | None = None

    @staticmethod
    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 3600, 2)

    @property
    def detect_hours(self) -> float | None:
        return self.hours(self.detect_seconds)

    @property
    def restore_hours(self) -> float | None:
        return self.hours(self.restore_seconds)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "detected": self.detected,
            "confirmed": self.confirmed,
            "dismissed": self.dismissed,
            "resolved": self.resolved,
            "orders": self.orders,
            "customers": self.customers,
            "time_to_detect_hours": self.detect_hours,
            "time_to_restore_hours": self.restore_hours,
        }


@dataclass
class FaultReport:
    rows: list[FaultReportRow]
    total: FaultReportRow
    complaints: int
    fault_linked: int

    @property
    def linked_share(self) -> float | None:
        if not self.complaints:
            return None
        return round(self.fault_linked * 100.0 / self.complaints, 1)


def _seconds(value) -> float | None:
    if value is None:
        return None
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    return float(value) / 1_000_000  # SQLite hands back microseconds


def fault_report(
    *, user, start: datetime, end: datetime, category_ids: list[int] | None = None
) -> FaultReport:
    """Faults detected in [start, end) by category: how many were detected, confirmed,
    dismissed, resolved; the orders and distinct customers they held (dismissed faults hold
    none); mean time to detect (first linked complaint → confirmed) and to restore (confirmed →
    resolved). And the share of the complaints reported in the period that are fault-linked."""
    faults = faults_visible_to(user).filter(detected_at__gte=start, detected_at__lt=end)
    if category_ids is not None:
        faults = faults.filter(category_id__in=category_ids)
    aggs = {
        "detected": Count("pk"),
        "confirmed": Count("pk", filter=Q(confirmed_at__isnull=False)),
        "dismissed": Count("pk", filter=Q(state=FaultState.DISMISSED)),
        "resolved": Count("pk", filter=Q(resolved_at__isnull=False)),
        "ttd": Avg(
            _duration("confirmed_at", "first_reported_at"),
            filter=Q(confirmed_at__isnull=False, first_reported_at__isnull=False),
        ),
        "ttr": Avg(
            _duration("resolved_at", "confirmed_at"),
            filter=Q(resolved_at__isnull=False, confirmed_at__isnull=False),
        ),
    }
    links = FaultLink.objects.filter(fault__in=faults.values("pk"), unlinked_at__isnull=True)
    link_aggs = {
        "orders": Count("ticket_id", distinct=True),
        "customers": Count("ticket__customer_phone", distinct=True),
    }
    by_cat = {r["category_id"]: r for r in faults.values("category_id").annotate(**aggs).order_by()}
    by_cat_links = {
        r["fault__category_id"]: r
        for r in links.values("fault__category_id").annotate(**link_aggs).order_by()
    }
    names = {
        c.pk: str(c) for c in Category.objects.filter(pk__in=list(by_cat)).select_related("parent")
    }

    def row(key, label, a, b) -> FaultReportRow:
        return FaultReportRow(
            key=key,
            label=label,
            detected=a.get("detected") or 0,
            confirmed=a.get("confirmed") or 0,
            dismissed=a.get("dismissed") or 0,
            resolved=a.get("resolved") or 0,
            orders=(b or {}).get("orders") or 0,
            customers=(b or {}).get("customers") or 0,
            detect_seconds=_seconds(a.get("ttd")),
            restore_seconds=_seconds(a.get("ttr")),
        )

    rows = [
        row(k, names.get(k, "?"), a, by_cat_links.get(k))
        for k, a in sorted(by_cat.items(), key=lambda kv: names.get(kv[0], ""))
    ]
    total = row(None, _("合计"), faults.aggregate(**aggs), links.aggregate(**link_aggs))
    complaints = tickets_visible_to(user).filter(reported_at__gte=start, reported_at__lt=end)
    if category_ids is not None:
        complaints = complaints.filter(category_id__in=category_ids)
    counts = complaints.aggregate(n=Count("pk"), linked=Count("pk", filter=active_link_q()))
    return FaultReport(rows, total, counts["n"] or 0, counts["linked"] or 0)
