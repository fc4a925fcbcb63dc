"""The daily KPI roll-up: `KpiDaily` holds, per local day × department × the order's
department now × category × region × urgency × channel, every count of the order-anchored KPI
sources (received, closed with its promise clock, dispatch and sign-for clocks, dispatches,
returns), the net handling time's sum and count and a histogram of it (P90). The report page
and the KPI API read it instead of scanning every order (`kpis.kpi_rows`,
`kpis.report_figures`).

Upkeep: whenever a service writes an order's audit row (`workorders.services.common._audit`
publishes `events.AUDITED` once the service is done with the order), `refresh_order`
recomputes what THIS order contributes — the same Source queries as the live figures, limited
to the one order — subtracts the contribution stored in `KpiShare` and adds the new one, in
the same transaction. O(1) per write; a re-dispatch, a category correction, a redo moves the
order's counts between cells and days by construction.

Lock order (no deadlock): the order's row (the service holds it), then its `KpiShare` row,
then the `KpiDaily` rows of the delta in key order, each by one `INSERT … ON CONFLICT DO
UPDATE SET x = x + excluded.x` (row-level: writers of other cells do not wait). Each cell is
striped over KPI_STRIPES rows by order id, so orders of the same day and kind written at once
(a busy morning's reports in one category) take different rows and do not wait for each
other's commit; readers sum the stripes.

Users who see the orders of whole departments (a lead, a handler: his subtree's) and some
others (those his subtree co-handles) read the cells whose order is with one of those
departments now, plus the same contributions computed live over the other orders they see
(`sums`): who sees an order goes by its department now, which is why the cells are keyed by it
as well as by the department a count is held against (a re-dispatched order's earlier
sign-for clocks and returns).

Not rolled up (always live): surveys, customer texts and opt-outs (written by the customer
channel and the SMS relay, not through the audit), users who see no department's orders
wholly (frontline, channel systems), scopes that leave out fault-linked orders, and periods
that do not start and end on local midnights.
"""

from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.statements import Statement
from sla.models import Clock
from sla.selectors import NetSeconds
from workorders.models import AuditEntry, Ticket
from workorders.selectors import visibility_parts, wholly_visible_department_ids

from . import kpis
from .models import (
    KPI_CELL_KEYS,
    KPI_HIST_FIELDS,
    KPI_NET_BUCKETS,
    KPI_NET_FIRST_EDGE,
    KPI_NET_RATIO,
    KPI_ROLLUP_COUNTS,
    KPI_STRIPES,
    KpiDaily,
    KpiRollupState,
    KpiShare,
)

ROLLED = ("received", "closed", "dispatch_clock", "sign_clock", "dispatches", "returns")
ROLLED_SOURCES = tuple(s for s in kpis.SOURCES if s.name in ROLLED)
ROLLED_COUNTS = tuple(c for s in ROLLED_SOURCES for c in s.counts)
assert set(ROLLED_COUNTS) | {"rows"} == set(KPI_ROLLUP_COUNTS)
KEYS = KPI_CELL_KEYS
VALUES = (*KPI_ROLLUP_COUNTS, "net_sum", "net_n", *KPI_HIST_FIELDS)

# --------------------------------------------------------------------------- histogram


def net_bucket(seconds: float) -> int:
    """The histogram bucket of a net handling time (monotonic: a larger time never falls in
    a lower bucket, so the live P90 falls in the bucket the histogram's P90 names)."""
    if seconds < KPI_NET_FIRST_EDGE:
        return 0
    i = int(math.log(seconds / KPI_NET_FIRST_EDGE) / math.log(KPI_NET_RATIO)) + 1
    # Correct the float log at the edges so the bucket is exactly [edge(i-1), edge(i)).
    while i > 1 and seconds < bucket_upper(i - 1):
        i -= 1
    while i < KPI_NET_BUCKETS - 1 and seconds >= bucket_upper(i):
        i += 1
    return min(i, KPI_NET_BUCKETS - 1)


def bucket_upper(i: int) -> float:
    return KPI_NET_FIRST_EDGE * KPI_NET_RATIO**i


def p90_bucket(hist: list[int]) -> int | None:
    """Nearest rank (like the live P90): the bucket holding the ceil(0.9 n)-th time."""
    n = sum(hist)
    if n == 0:
        return None
    k = math.ceil(0.9 * n)
    seen = 0
    for i, c in enumerate(hist):
        seen += c
        if seen >= k:
            return i
    return len(hist) - 1


def p90_seconds(hist: list[int]) -> float | None:
    """The upper edge of the P90 bucket (at most 20 % above the exact value; "90 % of the
    orders were handled within this")."""
    b = p90_bucket(hist)
    if b is None:
        return None
    return bucket_upper(min(b, KPI_NET_BUCKETS - 2) if b == KPI_NET_BUCKETS - 1 else b)


# --------------------------------------------------------------------------- contributions


def _order_key(source: kpis.Source) -> str:
    return "pk" if source.model is Ticket else "ticket_id"


def _grouped(source: kpis.Source, qs, *, per_order: bool = True):
    """`qs`'s counts grouped by cell (and by order: `per_order`, always for the closed
    orders, whose net times make the histogram one order at a time)."""
    p = source.prefix
    keys = {
        "_t": F(_order_key(source)),
        "_day": TruncDate(source.anchor, tzinfo=kpis.TZ),
        "_dept": F(source.dept),
        "_odept": F(p + "department_id"),
        "_cat": F(p + "category_id"),
        "_region": F(p + "customer_region"),
        "_urgency": F(p + "urgency"),
        "_channel": F(p + "channel"),
    }
    if not per_order and source.name != "closed":
        del keys["_t"]
    aggs = {**kpis._aggregates(source), "_rows": Count("pk")}
    if source.name == "closed":
        net = NetSeconds("promise_clock__")
        aggs.update(_net_sum=Sum(net), _net_n=Count(net))
    return qs.annotate(**keys).values(*keys).annotate(**aggs).order_by()


# One order's grouped query per source, compiled once per database vendor: compiling the six
# querysets cost ~30 ms of each write's ~45 ms refresh; only the order id changes.
_SENTINEL = -7_777_777_777
_compiled: dict[tuple[str, str], tuple[str, list, int] | None] = {}


def _one_order_sql(source: kpis.Source) -> tuple[str, list, int] | None:
    key = (connection.vendor, source.name)
    if key not in _compiled:
        col = _order_key(source)
        qs = _grouped(source, source.rows().filter(**{col: _SENTINEL}))
        sql, params = qs.query.sql_with_params()
        at = [i for i, p in enumerate(params) if p == _SENTINEL]
        _compiled[key] = (sql, list(params), at[0]) if len(at) == 1 else None
    return _compiled[key]


def _one_order_rows(source: kpis.Source, order_id: int):
    compiled = _one_order_sql(source)
    if compiled is None:  # the id was not a parameter: let the ORM run it
        yield from _grouped(source, source.rows().filter(**{_order_key(source): order_id}))
        return
    sql, params, at = compiled
    params = [*params[:at], order_id, *params[at + 1 :]]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    for row in rows:
        yield dict(zip(names, row, strict=True))


# --------------------------------------------------------------------------- a new order in hand

_UNKNOWN = None  # "cannot tell from the instance": the caller runs the source's SQL instead
_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _value(obj, name: str):
    """(found, value) of a concrete local field of `obj` by name or attname."""
    try:
        field = obj._meta.get_field(name)
    except Exception:
        return False, None
    if not field.concrete or field.many_to_many or field.one_to_many:
        return False, None
    return True, getattr(obj, field.attname)


def _holds(q, obj) -> bool | None:
    """Whether the row `obj` (an instance holding what its row holds) meets `q`, as a COUNT
    with FILTER(q) or a WHERE q would decide; None when this cannot tell (a negation, a
    relation, a lookup or expression it does not know): then the SQL decides. Without a
    negation SQL's unknown (a comparison with NULL) counts as false, and so it does here."""
    if q.negated:
        return _UNKNOWN
    results = [
        _holds(child, obj) if isinstance(child, Q) else _leaf(child, obj) for child in q.children
    ]
    if q.connector == Q.AND:
        if False in results:
            return False
        return _UNKNOWN if _UNKNOWN in results else True
    if q.connector == Q.OR:
        if True in results:
            return True
        return _UNKNOWN if _UNKNOWN in results else False
    return _UNKNOWN


def _leaf(child: tuple, obj) -> bool | None:
    lookup, want = child
    name, _sep, op = lookup.partition("__")
    found, have = _value(obj, name)
    if not found:
        return _UNKNOWN
    if isinstance(want, F):
        if "__" in want.name:
            return _UNKNOWN
        found, want = _value(obj, want.name)
        if not found:
            return _UNKNOWN
    elif hasattr(want, "resolve_expression") or hasattr(want, "_meta"):
        return _UNKNOWN  # an expression, a query, a model instance
    if op in ("", "exact"):
        return have is None if want is None else have is not None and have == want
    if op == "isnull":
        return (have is None) == bool(want)
    if op == "in":
        return have is not None and have in list(want)
    if op in _COMPARE:
        return have is not None and want is not None and _COMPARE[op](have, want)
    return _UNKNOWN


def _in_hand(ticket, rows_of: dict) -> dict[tuple, dict] | None:
    """A brand-new order's contribution from the rows its report wrote, held in memory:
    `rows_of` maps each model to the order's rows of it (the order, its clocks, its audit
    row). The same Source definitions decide, condition by condition (`_holds`); a row
    whose conditions cannot be told from the instance returns None (the caller queries).
    Only sources on the order itself are counted here: a row of another model that meets
    its source's base (a stopped clock, a return) also returns None."""
    cells: dict[tuple, dict] = {}
    for source in ROLLED_SOURCES:
        rows = rows_of.get(source.model)
        if rows is None:
            return None
        for row in rows:
            base = _holds(source.base, row)
            if base is False:
                continue
            if base is None or source.model is not Ticket or source.name == "closed":
                return None
            anchor = getattr(ticket, source.anchor)
            if anchor is None:
                continue
            counts: dict[str, float] = {"rows": 1}
            for name, q in source.counts.items():
                hit = True if q is None else _holds(q, ticket)
                if hit is None:
                    return None
                if hit:
                    counts[name] = 1
            key = (
                timezone.localtime(anchor, kpis.TZ).date().isoformat(),
                getattr(ticket, source.dept) or 0,
                ticket.department_id or 0,  # the order's department now (`_odept`)
                ticket.category_id or 0,
                ticket.customer_region or "",
                ticket.urgency or "",
                ticket.channel or "",
                ticket.pk % KPI_STRIPES,
            )
            cell = cells.setdefault(key, {})
            for k, v in counts.items():
                cell[k] = cell.get(k, 0) + v
    return cells


def contributions(
    *,
    order_id: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
    rows: Callable[[kpis.Source], QuerySet] | None = None,
    per_order: bool = True,
):
    """{ticket id: {cell key: {value name: n}}} of one order, of the orders with
    lo <= id < hi, or of the rows `rows(source)` gives, from the same Source queries as the
    live figures. Not `per_order` (with `rows`): the counts of the sources other than the
    closed orders come grouped by cell only, under ticket id 0 and stripe 0 (for sums)."""
    out: dict[int, dict[tuple, dict[str, float]]] = defaultdict(dict)
    for source in ROLLED_SOURCES:
        if order_id is not None:
            results = _one_order_rows(source, order_id)
        elif rows is not None:
            results = _grouped(source, rows(source), per_order=per_order)
        else:
            col = _order_key(source)
            results = _grouped(
                source, source.rows().filter(**{f"{col}__gte": lo, f"{col}__lt": hi})
            )
        for r in results:
            day = r["_day"]
            if day is None:
                continue
            key = (
                day if isinstance(day, str) else day.isoformat(),
                r["_dept"] or 0,
                r["_odept"] or 0,
                r["_cat"] or 0,
                r["_region"] or "",
                r["_urgency"] or "",
                r["_channel"] or "",
                r.get("_t", 0) % KPI_STRIPES,
            )
            cell = out[r.get("_t", 0)].setdefault(key, {})
            for name in (*source.counts, "_rows"):
                if r[name]:
                    k = "rows" if name == "_rows" else name
                    cell[k] = cell.get(k, 0) + r[name]
            if r.get("_net_n"):
                # One order per group: the sum is its own net time.
                cell["net_sum"] = cell.get("net_sum", 0.0) + r["_net_sum"]
                cell["net_n"] = cell.get("net_n", 0) + r["_net_n"]
                h = KPI_HIST_FIELDS[net_bucket(r["_net_sum"])]
                cell[h] = cell.get(h, 0) + 1
    return out


def _as_json(cells: dict[tuple, dict]) -> list:
    return [[*key, vals] for key, vals in sorted(cells.items())]


def _from_json(rows: list) -> dict[tuple, dict]:
    return {tuple(r[:-1]): r[-1] for r in rows}


def _delta(old: dict[tuple, dict], new: dict[tuple, dict]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for key in old.keys() | new.keys():
        a, b = old.get(key, {}), new.get(key, {})
        d = {k: b.get(k, 0) - a.get(k, 0) for k in a.keys() | b.keys()}
        d = {k: v for k, v in d.items() if v}
        if d:
            out[key] = d
    return out


def _upsert(delta: dict[tuple, dict]) -> None:
    """Add `delta` to the cells, in key order (the lock order), one statement."""
    if not delta:
        return
    table = KpiDaily._meta.db_table
    cols = (*KEYS, *VALUES)
    row = "(" + ", ".join(["%s"] * len(cols)) + ")"
    params: list = []
    for key in sorted(delta):
        vals = delta[key]
        params.extend(key)
        params.extend(vals.get(v, 0) for v in VALUES)
    sets = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in VALUES)
    sql = (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([row] * len(delta))} "
        f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {sets}"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _lock_share(ticket_id: int) -> list:
    """The order's stored contribution, its row created if missing and locked (one
    statement: a no-op update on conflict takes the row lock and returns the row)."""
    table = KpiShare._meta.db_table
    empty = "'[]'::jsonb" if connection.vendor == "postgresql" else "'[]'"
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (ticket_id, cells) VALUES (%s, {empty}) "
            f"ON CONFLICT (ticket_id) DO UPDATE SET cells = {table}.cells RETURNING cells",
            [ticket_id],
        )
        cells = cur.fetchone()[0]
    return json.loads(cells) if isinstance(cells, str) else cells


def refresh_order(ticket_id: int, *, new_order: bool = False, in_hand=None) -> None:
    """Bring the roll-up up to date with one order: its new contribution minus its old one.
    `new_order`: the order was created in this transaction, so it has no stored share yet
    (and no other transaction can write one before this one commits): its share is inserted
    with its contribution instead of being locked, read and updated. `in_hand`: that
    contribution, computed from the rows the report wrote (`_in_hand`), instead of the six
    source queries."""
    # Inside the service's transaction no savepoint of its own: a failure here fails the write.
    with transaction.atomic(savepoint=False):
        if new_order:
            new = in_hand
            if new is None:
                new = contributions(order_id=ticket_id).get(ticket_id, {})
            if new and connection.vendor == "postgresql":
                if _insert_share_and_cells(ticket_id, new):
                    return
            elif _insert_share(ticket_id, _as_json(new)):
                _upsert(_delta({}, new))
                return
            # An earlier event of this transaction (a risk alert) refreshed it already.
        old = _from_json(_lock_share(ticket_id))
        new = contributions(order_id=ticket_id).get(ticket_id, {})
        delta = _delta(old, new)
        if not delta:
            return
        _upsert(delta)
        KpiShare.objects.filter(pk=ticket_id).update(cells=_as_json(new))


def _insert_share(ticket_id: int, cells: list) -> bool:
    """Store a new order's share; False if it has one already."""
    table = KpiShare._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (ticket_id, cells) VALUES (%s, %s) "
            "ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id",
            [ticket_id, json.dumps(cells)],
        )
        return cur.fetchone() is not None


@functools.cache
def _typed_row() -> str:
    """One cell's VALUES row with each parameter cast to its column's type (a VALUES list
    inside a SELECT does not take the types of the columns it is inserted into)."""
    cols = (*KEYS, *VALUES)
    types = [KpiDaily._meta.get_field(c).db_type(connection) for c in cols]
    return "(" + ", ".join(f"%s::{t}" for t in types) + ")"


def _insert_share_and_cells(ticket_id: int, cells: dict[tuple, dict]) -> bool:
    """PostgreSQL: a new order's share and its cells in one statement (one round trip less
    per report): the cells are added only when the share was inserted (the share first, then
    the cells in key order: the lock order). False, and nothing written, if it had a share."""
    params: list = [ticket_id, json.dumps(_as_json(cells))]
    for key in sorted(cells):
        params.extend(key)
        params.extend(cells[key].get(v, 0) for v in VALUES)
    statement = _SHARE_AND_CELLS.get(len(cells))
    if statement is None:
        statement = _SHARE_AND_CELLS[len(cells)] = _share_and_cells(len(cells))
    with connection.cursor() as cur:
        statement.execute(cur, params)
        return bool(cur.fetchall())


# {number of cells: the statement}, written (and on PostgreSQL prepared) once each.
_SHARE_AND_CELLS: dict[int, Statement] = {}


def _share_and_cells(count: int) -> Statement:
    share, daily = KpiShare._meta.db_table, KpiDaily._meta.db_table
    names = ", ".join((*KEYS, *VALUES))
    sets = ", ".join(f"{v} = {daily}.{v} + excluded.{v}" for v in VALUES)
    return Statement(
        f"WITH s AS (INSERT INTO {share} (ticket_id, cells) VALUES (%s, %s) "
        "ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id) "
        f"INSERT INTO {daily} ({names}) SELECT * FROM (VALUES "
        f"{', '.join([_typed_row()] * count)}) v ({names}) WHERE EXISTS (SELECT 1 FROM s) "
        f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {sets} RETURNING 1"
    )


def on_order_changed(*, ticket, **_payload) -> None:
    refresh_order(ticket.pk)


def on_order_reported(*, ticket, clocks=None, audit=None, **_payload) -> None:
    """A new order: its share from the order, its clocks and its audit row in hand when the
    report passed them (and nothing has changed the order since), else from the database."""
    in_hand = None
    if clocks is not None and audit is not None:
        in_hand = _in_hand(ticket, {Ticket: [ticket], Clock: clocks, AuditEntry: [audit]})
    refresh_order(ticket.pk, new_order=True, in_hand=in_hand)


# --------------------------------------------------------------------------- rebuild


def rebuild(*, chunk: int = 50_000, now: datetime | None = None, log=None) -> int:
    """Recompute the roll-up from every order (after a bulk load, or to repair it). One
    transaction; the tables are locked so that writes that would refresh an order wait."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    f"LOCK TABLE {KpiShare._meta.db_table}, {KpiDaily._meta.db_table} "
                    "IN SHARE ROW EXCLUSIVE MODE"
                )
                cur.execute("SET LOCAL jit = off")
                cur.execute("SET LOCAL work_mem = '64MB'")
        KpiShare.objects.all().delete()
        KpiDaily.objects.all().delete()
        KpiRollupState.objects.all().delete()
        top = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        cells: dict[tuple, dict] = {}
        n = 0
        for lo in range(1, top + 1, chunk):
            per_order = contributions(lo=lo, hi=lo + chunk)
            KpiShare.objects.bulk_create(
                [KpiShare(ticket_id=t, cells=_as_json(c)) for t, c in per_order.items()],
                batch_size=5000,
            )
            for c in per_order.values():
                for key, vals in c.items():
                    acc = cells.setdefault(key, {})
                    for k, v in vals.items():
                        acc[k] = acc.get(k, 0) + v
            n += len(per_order)
            if log:
                log(f"{min(lo + chunk - 1, top)}/{top} order ids, {len(cells)} cells")
        KpiDaily.objects.bulk_create(
            [
                KpiDaily(**dict(zip(KEYS, key, strict=True)), **vals)
                for key, vals in sorted(cells.items())
            ],
            batch_size=2000,
        )
        KpiRollupState.objects.create(built_at=now or timezone.now())
    return n


# --------------------------------------------------------------------------- reading


def is_built() -> bool:
    return KpiRollupState.objects.exists()


def serves(*, user, period: kpis.Period, scope: kpis.Scope) -> bool:
    """Whether the roll-up can answer: whole local days, a user who sees every order (or the
    system) or whole departments' orders (a lead, a handler: see `sums`), a scope made of the
    roll-up's own dimensions, and a roll-up that was built."""
    if user is not None and not kpis.sees_all_tickets(user):
        if not (user.is_authenticated and user.is_active):
            return False
        if visibility_parts(user)[0] is None:
            return False
    if scope.exclude_fault_linked or not kpis._whole_days(period):
        return False
    return is_built()


def _cells(period: kpis.Period, scope: kpis.Scope, order_departments: list[int] | None = None):
    qs = KpiDaily.objects.filter(day__gte=period.first_day, day__lte=period.last_day)
    if order_departments is not None:
        qs = qs.filter(order_department_id__in=order_departments)
    ids = scope.department_ids()
    if ids is not None:
        qs = qs.filter(department_id__in=ids)
    elif scope.no_department:
        qs = qs.filter(department_id=0)
    cats = scope.category_ids()
    if cats is not None:
        qs = qs.filter(category_id__in=cats)
    if scope.region:
        qs = qs.filter(region=scope.region)
    if scope.urgency:
        qs = qs.filter(urgency=scope.urgency)
    if scope.channel:
        qs = qs.filter(channel=scope.channel)
    return qs


DIM_FIELDS = {
    "department": "department_id",
    "category": "category_id",
    "region": "region",
    "urgency": "urgency",
    "channel": "channel",
    "day": "day",
    "week": "day",
    "month": "day",
}


def sums(*, period: kpis.Period, scope: kpis.Scope, by: tuple[str, ...] = (), user=None) -> dict:
    """{group key tuple: {value name: total}} over the period's days, grouped by the given
    dimensions (department, category, region, urgency, channel, day, week, month; the time
    ones keyed by the local midnight that starts the bucket). Groups without a row left out.

    `user`: the figures of the orders this user sees (None: the system, every order; check
    `serves` first). For a user who sees the orders of whole departments and some others
    (`workorders.selectors.visibility_parts`: a lead's subtree, and the orders it co-handles)
    the sums are two disjoint parts that add up: the cells whose order is with one of those
    departments now (`order_department_id`), and the same contributions computed live over
    the other orders the user sees (`tickets_visible_outside_departments`: co-handled orders
    of other departments, orders without a department)."""
    fields = sorted({DIM_FIELDS[d] for d in by})
    departments = None
    if user is not None and not kpis.sees_all_tickets(user):
        departments = wholly_visible_department_ids(user)
    qs = (
        _cells(period, scope, departments)
        .values(*fields)
        .annotate(**{f"s_{v}": Sum(v) for v in VALUES})
        .order_by()
    )
    out: dict[tuple, dict] = {}
    _add_up(out, qs, by)
    if departments is not None:
        _add_up(out, _outside_cells(user, period, scope, fields), by)
    return {k: v for k, v in out.items() if v["rows"] > 0}


def _add_up(out: dict, rows, by: tuple[str, ...]) -> None:
    for r in rows:
        key = []
        for d in by:
            v = r[DIM_FIELDS[d]]
            if d in ("day", "week", "month"):
                if isinstance(v, str):
                    v = date.fromisoformat(v)
                v = kpis._midnight(kpis._bucket_start(d, v))
            elif d in ("department", "category"):
                v = v or None
            key.append(v)
        acc = out.setdefault(tuple(key), dict.fromkeys(VALUES, 0))
        for v in VALUES:
            acc[v] += r[f"s_{v}"] or 0


def _outside_cells(user, period: kpis.Period, scope: kpis.Scope, fields):
    """Rows like the cells' sums, of the orders `user` sees outside the departments whose
    orders he sees wholly: each order's contribution (as the roll-up's writes compute it)
    from the live Source rows of the period and scope, one row per order and cell."""

    def rows(source: kpis.Source) -> QuerySet:
        return kpis.source_rows(
            source, user=user, period=period, scope=scope, outside_departments=True
        )

    for cells in contributions(rows=rows, per_order=False).values():
        for key, vals in cells.items():
            cell = dict(zip(KEYS, key, strict=True))
            yield {
                **{f: cell[f] for f in fields},
                **{f"s_{v}": vals.get(v, 0) for v in VALUES},
            }


def hist_of(vals: dict) -> list[int]:
    return [int(vals[h]) for h in KPI_HIST_FIELDS]


def net_mean(vals: dict) -> float | None:
    return vals["net_sum"] / vals["net_n"] if vals["net_n"] else None


# --------------------------------------------------------------------------- verification


def verify(
    *, period: kpis.Period, scope: kpis.Scope | None = None, by=None, user=None
) -> list[str]:
    """Differences between the roll-up and the live figures over `period`: every rolled-up
    count, the net handling time's mean (to 1e-6 relative) and P90 (the live value must lie
    in the bucket the histogram names), in total and grouped by each dimension. `user`: as
    that user sees them (a lead: his subtree's cells and his other orders live, against his
    live figures); None: every order."""
    scope = scope or kpis.Scope()
    problems: list[str] = []
    groups = by if by is not None else (None, *DIM_FIELDS)
    for group_by in groups:
        by_ = () if group_by is None else (group_by,)
        rolled = sums(period=period, scope=scope, by=by_, user=user)
        live = {
            r.key: r
            for r in kpis.kpi_rows(
                user=user, period=period, scope=scope, group_by=group_by, live=True
            )
        }
        for key in set(live) | {k[0] if by_ else None for k in rolled}:
            vals = rolled.get((key,) if by_ else ())
            row = live.get(key)
            where = f"{group_by or 'total'}={key}"
            for name in ROLLED_COUNTS:
                a = int(vals[name]) if vals else 0
                b = row.counts.get(name, 0) if row else 0
                if a != b:
                    problems.append(f"{where} {name}: roll-up {a}, live {b}")
            mean_a = net_mean(vals) if vals else None
            mean_b = row.net_mean_seconds if row else None
            if (mean_a is None) != (mean_b is None) or (
                mean_a is not None and not math.isclose(mean_a, mean_b, rel_tol=1e-6, abs_tol=1e-3)
            ):
                problems.append(f"{where} net mean: roll-up {mean_a}, live {mean_b}")
            if group_by in kpis.TIME_GROUPS and connection.vendor != "postgresql":
                continue  # the live P90 per day/week/month is PostgreSQL-only
            bucket_a = p90_bucket(hist_of(vals)) if vals else None
            p90_b = row.net_p90_seconds if row else None
            bucket_b = None if p90_b is None else net_bucket(p90_b)
            if bucket_a != bucket_b:
                problems.append(f"{where} P90 bucket: roll-up {bucket_a}, live {bucket_b}")
    return problems
