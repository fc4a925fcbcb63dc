"""Detection (DESIGN.md §10): the beat job that finds mass faults among recent complaints.

One run, in one transaction, held by the run-once lock of background jobs (`jobs.locks`):

1. Read the recent window only: open orders of clusterable categories reported within
   FAULTS_WINDOW_MINUTES (an index range on `reported_at`), plus the open orders already held
   by suspected faults (so a growing cluster finds its fault). Orders that a person took out of
   a fault, that were in a dismissed fault, that a reporter said were unrelated, or that belong
   to a confirmed/resolved fault are not candidates: they were judged.
2. An unlinked candidate in the category and area of an open fault joins it (a confirmed fault
   also dispatches it to its department).
3. Cluster the rest per category: at least FAULTS_MIN_ORDERS orders sharing the district
   (`customer_region`), or a dense group of orders within FAULTS_RADIUS_METERS of each other
   (`geo.dense_clusters`); both relations are joined into one component.
4. A component holding orders of a suspected fault grows that fault; otherwise it becomes a new
   `suspected` fault (`detect`), announced to the dispatchers and the category's department.
5. A resolved fault whose orders are all finished is closed by the system.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, FloatField, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from jobs.locks import run_once
from workorders.models import OPEN_STATES, Category, Ticket

from . import events, services
from .geo import Grid, Point, UnionFind, centre_and_radius, dense_clusters
from .models import (
    OPEN_FAULT_STATES,
    Fault,
    FaultAudit,
    FaultLink,
    FaultSequence,
    FaultState,
    LinkHow,
)
from .selectors import area_matches

log = logging.getLogger(__name__)

JOB = "faults.detect"


@dataclass
class DetectResult:
    ran: bool = True
    candidates: int = 0
    created: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    linked: int = 0
    closed: list[str] = field(default_factory=list)
    read_ms: float = 0.0
    cluster_ms: float = 0.0
    write_ms: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Row:
    id: int
    number: str
    category_id: int
    region: str
    lat: float | None
    lng: float | None
    reported_at: datetime
    fault_id: int | None = None  # an active link to a suspected fault


@dataclass(frozen=True)
class DetectionSettings:
    min_orders: int
    window: timedelta
    radius_m: float

    @classmethod
    def current(cls) -> DetectionSettings:
        return cls(
            min_orders=settings.FAULTS_MIN_ORDERS,
            window=timedelta(minutes=settings.FAULTS_WINDOW_MINUTES),
            radius_m=float(settings.FAULTS_RADIUS_METERS),
        )


def _row(values, fault_id=None) -> _Row:
    pk, number, cat, region, lat, lng, at = values
    return _Row(pk, number, cat, (region or "").strip(), lat, lng, at, fault_id)


FIELDS = ("id", "number", "category_id", "customer_region", "lat", "lng", "reported_at")


def _located(qs, prefix: str = ""):
    """Latitude and longitude as floats in SQL (a Decimal per value costs more to build)."""
    return qs.annotate(
        lat=Cast(f"{prefix}latitude", FloatField()), lng=Cast(f"{prefix}longitude", FloatField())
    )


def _fetch(qs):
    """The rows of a values_list query. On PostgreSQL straight from the cursor: psycopg2
    already hands back floats and aware datetimes, and Django's per-row converters cost more
    than the query at 50,000 rows."""
    if connection.vendor != "postgresql":
        return qs.iterator(chunk_size=10000)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def read_candidates(now: datetime, cfg: DetectionSettings) -> tuple[dict[int, _Row], dict]:
    """The recent window's candidate orders (and the open members of suspected faults), with
    the categories by id."""
    categories = {c.pk: c for c in Category.objects.filter(clusterable=True, is_active=True)}
    if not categories:
        return {}, categories
    since = now - cfg.window
    window = Ticket.objects.filter(
        category_id__in=list(categories),
        reported_at__gte=since,
        reported_at__lte=now,
        state__in=OPEN_STATES,
    ).order_by()
    rows = {v[0]: _row(v) for v in _fetch(_located(window).values_list(*FIELDS))}
    # Links of orders in the window (few): anything but an active link to a suspected fault
    # means someone (or something) already judged the order.
    judged = FaultLink.objects.filter(
        ticket__category_id__in=list(categories),
        ticket__reported_at__gte=since,
        ticket__reported_at__lte=now,
    ).values_list("ticket_id", "fault_id", "unlinked_at", "fault__state")
    member: dict[int, int] = {}
    excluded: set[int] = set()
    for ticket_id, fault_id, unlinked_at, state in judged:
        if unlinked_at is None and state == FaultState.SUSPECTED:
            member[ticket_id] = fault_id
        else:
            excluded.add(ticket_id)
    for pk in excluded:
        rows.pop(pk, None)
    for pk, fault_id in member.items():
        if pk in rows and pk not in excluded:
            rows[pk].fault_id = fault_id
    # Members of suspected faults reported before the window still anchor their cluster.
    older = (
        _located(
            FaultLink.objects.filter(
                unlinked_at__isnull=True,
                fault__state=FaultState.SUSPECTED,
                ticket__state__in=OPEN_STATES,
                ticket__reported_at__lt=since,
            ),
            "ticket__",
        )
        .annotate(
            t_id=F("ticket_id"),
            t_number=F("ticket__number"),
            t_category=F("ticket__category_id"),
            t_region=F("ticket__customer_region"),
            t_at=F("ticket__reported_at"),
        )
        .values_list("t_id", "t_number", "t_category", "t_region", "lat", "lng", "t_at", "fault_id")
    )
    for *values, fault_id in older:
        if values[2] in categories:
            rows[values[0]] = _row(values, fault_id)
    return rows, categories


def components(rows: list[_Row], cfg: DetectionSettings) -> list[set[int]]:
    """Orders joined by sharing a district (groups of at least N) or by lying in one dense
    group within the radius; components of at least N orders."""
    uf = UnionFind()
    districts: dict[tuple, list[int]] = defaultdict(list)
    for r in rows:
        if r.region:
            districts[(r.category_id, r.region)].append(r.id)
    for ids in districts.values():
        if len(ids) >= cfg.min_orders:
            for other in ids[1:]:
                uf.union(ids[0], other)
    points = [Point(r.id, r.category_id, r.lat, r.lng) for r in rows if r.lat is not None]
    for cluster in dense_clusters(points, radius=cfg.radius_m, min_count=cfg.min_orders):
        members = iter(cluster)
        first = next(members)
        uf.find(first)
        for other in members:
            uf.union(first, other)
    return [c for c in uf.groups() if len(c) >= cfg.min_orders]


def _reserve_numbers(now: datetime, count: int) -> list[str]:
    """`count` consecutive fault numbers of the day under one row lock."""
    if count <= 0:
        return []
    day = timezone.localdate(now)
    FaultSequence.objects.bulk_create([FaultSequence(day=day, last=0)], ignore_conflicts=True)
    FaultSequence.objects.filter(day=day).update(last=F("last") + count)
    last = FaultSequence.objects.filter(day=day).values_list("last", flat=True).get()
    return [f"QZ{day:%Y%m%d}{n:04d}" for n in range(last - count + 1, last + 1)]


def _area(members: list[_Row], district: str | None) -> dict:
    pts = [(r.lat, r.lng) for r in members if r.lat is not None]
    area = centre_and_radius(pts)
    regions = Counter(r.region for r in members if r.region)
    out = {
        "region": district or (regions.most_common(1)[0][0] if regions else ""),
        "by_district": district is not None,
        "center_lat": None,
        "center_lng": None,
        "radius_m": None,
    }
    if area is not None:
        out.update(center_lat=round(area[0], 6), center_lng=round(area[1], 6), radius_m=area[2])
    return out


def _create_faults(clusters: list[tuple[list[_Row], str | None]], categories, now) -> list[Fault]:
    """New suspected faults with their links and `detect` audit rows, in a few statements."""
    numbers = _reserve_numbers(now, len(clusters))
    faults = []
    for (members, district), number in zip(clusters, numbers, strict=True):
        category = categories[members[0].category_id]
        faults.append(
            Fault(
                number=number,
                category=category,
                department=category.default_department,
                detected_at=now,
                first_reported_at=min(r.reported_at for r in members),
                last_reported_at=max(r.reported_at for r in members),
                order_count=len(members),
                **_area(members, district),
            )
        )
    Fault.objects.bulk_create(faults)
    if not all(f.pk for f in faults):  # a backend that returns no ids from bulk inserts
        by_number = dict(Fault.objects.filter(number__in=numbers).values_list("number", "pk"))
        for f in faults:
            f.pk = f.id = by_number[f.number]
    pairs = [
        (f.pk, r.id)
        for f, (members, _district) in zip(faults, clusters, strict=True)
        for r in members
    ]
    if connection.vendor == "postgresql":
        # Thousands of links in one statement, without building a model instance for each.
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {FaultLink._meta.db_table} "
                "(fault_id, ticket_id, how, linked_at, unlink_reason) "
                "SELECT f, t, %s, %s, '' FROM unnest(%s::bigint[], %s::bigint[]) AS u(f, t)",
                [LinkHow.AUTO.value, now, [p[0] for p in pairs], [p[1] for p in pairs]],
            )
    else:
        FaultLink.objects.bulk_create(
            [FaultLink(fault_id=f, ticket_id=t, how=LinkHow.AUTO, linked_at=now) for f, t in pairs],
            batch_size=2000,
        )
    audits = FaultAudit.objects.bulk_create(
        [
            FaultAudit(
                fault=f,
                transition="detect",
                source="",
                target=f.state,
                actor=None,
                actor_role="system",
                at=now,
                data={
                    "orders": sorted(r.number for r in members),
                    "district": district or "",
                    "radius_m": f.radius_m,
                },
            )
            for f, (members, district) in zip(faults, clusters, strict=True)
        ]
    )
    if not all(a.pk for a in audits):
        by_fault = dict(
            FaultAudit.objects.filter(fault__in=faults, transition="detect").values_list(
                "fault_id", "pk"
            )
        )
        for a in audits:
            a.pk = a.id = by_fault[a.fault_id]
    events.publish(events.FAULT_BATCH, items=list(zip(faults, audits, strict=True)), now=now)
    return faults


def _grow(fault_id: int, members: list[_Row], now: datetime) -> Fault | None:
    fault = services._locked(fault_id)
    if fault.state != FaultState.SUSPECTED:
        return None
    tickets = list(Ticket.objects.select_related("category").filter(pk__in=[r.id for r in members]))
    tickets = [t for t in tickets if services.link_refusal(fault, t) is None]
    if not tickets:
        return None
    services._link(fault, tickets, how=LinkHow.AUTO, by=None, role="system", now=now)
    return fault


def _join_open_faults(rows: dict[int, _Row], cfg, now) -> tuple[int, set[str]]:
    """Unlinked candidates in the area of an open fault of their category join it (confirmed
    faults first). District faults are looked up by district; the others through a grid of
    the candidates, so the cost follows the faults' areas, not candidates × faults."""
    faults = list(
        Fault.objects.filter(
            state__in=OPEN_FAULT_STATES, category_id__in={r.category_id for r in rows.values()}
        )
    )
    if not faults:
        return 0, set()
    faults.sort(key=lambda f: (f.state != FaultState.CONFIRMED, -f.detected_at.timestamp()))
    free = [r for r in rows.values() if r.fault_id is None]
    by_district = defaultdict(list)
    for r in free:
        if r.region:
            by_district[(r.category_id, r.region)].append(r)
    located = [r for r in free if r.lat is not None]
    grid = Grid(located, cfg.radius_m)
    joins: dict[int, list[int]] = defaultdict(list)
    taken: set[int] = set()
    for f in faults:
        near: list[_Row] = []
        if f.by_district and f.region:
            near += by_district.get((f.category_id, f.region), [])
        if f.center_lat is not None and f.center_lng is not None:
            reach = max(f.radius_m or 0, cfg.radius_m)
            near += grid.around(f.category_id, float(f.center_lat), float(f.center_lng), reach)
        for r in near:
            if r.id in taken:
                continue
            if area_matches(f, region=r.region, lat=r.lat, lng=r.lng, radius=cfg.radius_m):
                joins[f.pk].append(r.id)
                taken.add(r.id)
    linked, touched = 0, set()
    for fault_id, ids in joins.items():
        fault = services._locked(fault_id)
        if fault.can_link:
            tickets = [
                t
                for t in Ticket.objects.select_related("category").filter(pk__in=ids)
                if services.link_refusal(fault, t) is None
            ]
            if tickets:
                services._link(fault, tickets, how=LinkHow.AUTO, by=None, role="system", now=now)
                linked += len(tickets)
                touched.add(fault.number)
        for pk in ids:
            rows.pop(pk, None)
    return linked, touched


def _close_finished(now: datetime) -> list[str]:
    closed = []
    open_child = FaultLink.objects.filter(
        fault=OuterRef("pk"), unlinked_at__isnull=True, ticket__state__in=OPEN_STATES
    )
    finished = Fault.objects.filter(state=FaultState.RESOLVED).exclude(Exists(open_child))
    for fault in finished:
        services.fault_close(fault=fault, by=None, now=now)
        closed.append(fault.number)
    return closed


def fault_detect(*, now: datetime | None = None) -> DetectResult:
    """One detection run (see the module text). Safe to run twice at once: the second run
    skips (`ran=False`) and is counted on the job's record."""
    now = now or timezone.now()
    cfg = DetectionSettings.current()
    result = DetectResult()
    with run_once(JOB, lease=timedelta(minutes=10)) as mine, transaction.atomic():
        if not mine:
            result.ran = False
            return result
        t0 = time.perf_counter()
        rows, categories = read_candidates(now, cfg)
        result.candidates = len(rows)
        t1 = time.perf_counter()
        result.read_ms = round((t1 - t0) * 1000, 1)
        linked, touched = _join_open_faults(rows, cfg, now)
        result.linked += linked
        t2 = time.perf_counter()
        found = components(list(rows.values()), cfg)
        t3 = time.perf_counter()
        result.cluster_ms = round((t3 - t2) * 1000, 1)

        new: list[tuple[list[_Row], str | None]] = []
        grown: set[str] = set(touched)
        for component in found:
            members = [rows[pk] for pk in component]
            held = Counter(r.fault_id for r in members if r.fault_id is not None)
            fresh = [r for r in members if r.fault_id is None]
            if held:
                if not fresh:
                    continue
                fault = _grow(held.most_common(1)[0][0], fresh, now)
                if fault is not None:
                    grown.add(fault.number)
                    result.linked += len(fresh)
                continue
            regions = Counter(r.region for r in members if r.region)
            district = None
            if regions:
                region, n = regions.most_common(1)[0]
                if n >= cfg.min_orders:
                    district = region
            new.append((sorted(members, key=lambda r: r.reported_at), district))
        created = _create_faults(new, categories, now) if new else []
        result.created = [f.number for f in created]
        result.linked += sum(len(m) for m, _d in new)
        result.grown = sorted(grown)
        result.closed = _close_finished(now)
        result.write_ms = round((time.perf_counter() - t3) * 1000, 1)
    if result.created or result.grown:
        log.info("fault detection: %s", result.as_dict())
    return result
