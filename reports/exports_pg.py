"""PostgreSQL fast path for the orders CSV: the database renders each line.

The generic path (`exports.ticket_rows` + csv.writer) costs tens of microseconds per row in
Python for 49 columns; here PostgreSQL formats times, labels, names, numbers, the phone mask
and formula neutralisation, and `COPY … TO STDOUT WITH (FORMAT csv)` does the CSV quoting and
the line building in C; Python forwards the bytes, making only the line ends CRLF. The output
is byte for byte the generic path's: csv.writer's minimal quoting (a field is quoted only if it
holds a comma, a quote, CR or LF), CRLF line ends, times in Asia/Shanghai to the second, hours
rounded half away from zero on the exact value (`exports.hours`). tests/reports/test_exports.py
compares the two paths on the same orders, byte for byte.

Each chunk is two queries: the next `REPORTS_EXPORT_PG_CHUNK` ids of the export's queryset
(keyset on the primary key, index-ordered) as one array, then the COPY of those orders' lines,
so memory stays flat.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from workorders.models import (
    CauseCategory,
    Channel,
    ReturnRuling,
    Satisfaction,
    State,
    Urgency,
    VisitChannel,
    VisitOutcome,
)
from workorders.permissions import can_see_full_phone

from .routing import read_alias

# Characters Python's str.strip() removes (user names are "last+first".strip()); the last
# one is U+3000.
WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())


def _text(x: str) -> str:
    """A text value; empty is NULL, which COPY writes as nothing (it quotes an empty string)."""
    return f"NULLIF({x}, '')"


# The character codes of = + - @ tab CR (`exports.DANGEROUS`): ascii() reads the first one
# without building a substring.
DANGEROUS = "(61, 43, 45, 64, 9, 13)"


def _neut(x: str) -> str:
    """`exports.neutralise`: a value starting with = + - @ tab or CR gets a leading quote.
    `x` is repeated: a plain column of the inner query."""
    return f"(CASE WHEN ascii({x}) IN {DANGEROUS} THEN '''' || {x} ELSE {_text(x)} END)"


def _ts(x: str) -> str:
    """Local wall time to the second, truncated like `exports._local`: the chunk's transaction
    runs in the export's time zone (SET LOCAL), so the cast looks no zone up per value; COPY
    writes a timestamp as "YYYY-MM-DD HH:MI:SS" under DateStyle ISO (also set per chunk)."""
    return f"date_trunc('second', ({x})::timestamp)"


def _hours(x: str, places: int) -> str:
    """Hours as `exports.hours` gives them and `csv_number` writes them: numeric arithmetic
    (exact), rounded half away from zero, trailing zeros dropped."""
    return f"trim_scale(round(({x})::numeric, {places}))"


ENUMS = {
    "channel": Channel,
    "state": State,
    "urgency": Urgency,
    "ruling": ReturnRuling,
    "cause": CauseCategory,
    "outcome": VisitOutcome,
    "satisfaction": Satisfaction,
    "visit_channel": VisitChannel,
}


def _case(param: str, col: str, default: str = "NULL") -> str:
    """A label by CASE over the choices (cheaper per row than a JSON lookup); the labels
    themselves are parameters, in the user's language."""
    whens = " ".join(f"WHEN '{value}' THEN %({param}_{value})s" for value in ENUMS[param].values)
    return f"(CASE {col} {whens} ELSE {default} END)"


def _label(param: str, col: str) -> str:
    """A choice's label; an unknown value is written as it is."""
    return _case(param, col, _text(col))


def _yn(cond: str) -> str:
    return f"(CASE WHEN {cond} THEN %(yes)s ELSE %(no)s END)"


def _user(alias: str) -> str:
    """The exporter's user name: "last+first(username)", else the username; NULL for none."""
    full = f"btrim({alias}.last_name || {alias}.first_name, %(ws)s)"
    return (
        f"CASE WHEN {full} <> '' THEN {full} || '(' || {alias}.username || ')' "
        f"ELSE {_text(alias + '.username')} END"
    )


# A user's name as written (neutralised), in a subquery of its own per user column: the
# planner caches its result per user id (Memoize), so each name is built once per chunk.
USER = f"SELECT {_neut(_user('u'))} AS name FROM accounts_user u WHERE u.id"

REF = "coalesce(c.paused_at, %(now)s::timestamptz)"
LIVE = "(c.id IS NOT NULL AND NOT c.voided)"
STOPPED = f"({LIVE} AND c.stopped_at IS NOT NULL)"
RUNNING = f"({LIVE} AND c.stopped_at IS NULL)"
OVER_SECONDS = (
    f"(CASE WHEN {STOPPED} AND c.stopped_at > c.due_at "
    f"THEN extract(epoch FROM c.stopped_at - c.due_at) "
    f"WHEN {RUNNING} AND {REF} > c.due_at THEN extract(epoch FROM {REF} - c.due_at) END)"
)
NET = _hours(
    f"CASE WHEN {STOPPED} THEN "
    f"(extract(epoch FROM c.stopped_at - c.started_at) - c.paused_seconds) / 3600.0 END",
    2,
)


def _mask(d: str) -> str:
    """`workorders.phones.mask_phone` in SQL (same cases, same output) of a number already
    trimmed (`d`, a plain column): a fixed line keeps its area code (before the hyphen, else 3
    digits for 01x/02x and 4 otherwise) and last four digits; a mobile shows 3 + **** + 4;
    anything else its last four."""
    local = f"substr({d}, strpos({d}, '-') + 1)"
    n = f"(CASE WHEN substr({d}, 2, 1) IN ('1', '2') THEN 3 ELSE 4 END)"
    return (
        f"(CASE WHEN left({d}, 1) = '0' AND length({d}) > 8 THEN "
        f"(CASE WHEN strpos({d}, '-') > 0 "
        f"THEN split_part({d}, '-', 1) || '-' || repeat('*', length({local}) - 4) "
        f"|| right({local}, 4) "
        f"ELSE left({d}, {n}) || repeat('*', length({d}) - {n} - 4) "
        f"|| right(substr({d}, {n} + 1), 4) END) "
        f"WHEN length({d}) >= 11 THEN left({d}, 3) || '****' || right({d}, 4) "
        f"WHEN length({d}) > 4 THEN repeat('*', length({d}) - 4) || right({d}, 4) "
        "ELSE '****' END)"
    )


# The number in full for roles with the right and for the order's own reporter (as
# `can_see_full_phone` decides per order), masked otherwise. The inner query trims the number
# once (`pd`, NULL when shown in full); the outer one masks it.
TRIMMED = (
    "(CASE WHEN %(full_phone)s OR t.reporter_id = %(uid)s THEN NULL "
    "ELSE btrim(t.customer_phone, %(ws)s) END)"
)
PHONE = f"(CASE WHEN s.pd IS NULL THEN NULLIF(s.customer_phone, '') ELSE {_mask('s.pd')} END)"

# The co-handling departments of the chunk's orders, in the order they were asked, as one
# JSON object by order id, built once per chunk (an uncorrelated subquery) and looked up per
# order: a correlated subquery per order cost an index probe and a sort set up per order. The
# chunk's id range is the index condition; "+ 0" keeps the ids test off the index (it would
# descend it once per id) as a hashed filter.
CO = """(SELECT jsonb_object_agg(g.ticket_id, g.names) FROM (
    SELECT ch.ticket_id, string_agg(cd.name, '、' ORDER BY ch.id) AS names
    FROM workorders_cohandling ch JOIN accounts_department cd ON cd.id = ch.department_id
    WHERE ch.ticket_id BETWEEN %(lo)s::bigint AND %(hi)s::bigint
      AND ch.ticket_id + 0 = ANY(%(ids)s::bigint[])
    GROUP BY ch.ticket_id) g)"""

# The inner query computes once each value the outer one repeats (user names, texts to
# neutralise); OFFSET 0 keeps it from being flattened into the outer one.
INNER = f"""
SELECT t.id, {TRIMMED} AS pd, t.customer_phone, t.number, t.channel, t.state,
  ru.name AS ru, rd.name AS rd, {_ts("t.reported_at")} AS reported_at,
  t.customer_name, t.customer_region, t.star_level, t.is_elderly, t.claimed_escalation,
  CASE WHEN cp.id IS NULL THEN cat.name ELSE cp.name || ' / ' || cat.name END AS cat,
  t.urgency, t.urgency_reason, t.description, {_ts("t.dispatched_at")} AS dispatched_at,
  du.name AS du, d.name AS d,
  {CO} ->> t.id::text AS co,
  {_ts("t.claimed_at")} AS claimed_at, cu.name AS cu, hu.name AS hu,
  t.return_count, t.last_return_reason, t.last_return_ruling, t.redispatch_count,
  t.extension_count, {_ts("c.original_due_at")} AS original_due_at,
  {_ts("c.due_at")} AS due_at, t.suspension_count,
  {_hours("coalesce(c.paused_seconds, 0) / 3600.0", 2)} AS paused,
  {_ts("t.replied_at")} AS replied_at, t.reply_result, t.reply_cause,
  {_ts("t.visit_at")} AS visit_at, t.visit_outcome, t.visit_resolved, t.visit_satisfaction,
  t.visit_channel,
  {_ts("t.closed_at")} AS closed_at, {NET} AS net, {OVER_SECONDS} AS over_seconds,
  t.chase_count, t.supervise_count, t.redo_count, t.is_repeat,
  CASE WHEN t.repeat_of_id IS NOT NULL THEN
    (SELECT rp.number FROM workorders_ticket rp WHERE rp.id = t.repeat_of_id) END AS rp
FROM workorders_ticket t
LEFT JOIN sla_clock c ON c.id = t.promise_clock_id
LEFT JOIN LATERAL ({USER} = t.reporter_id OFFSET 0) ru ON true
LEFT JOIN LATERAL ({USER} = t.dispatched_by_id OFFSET 0) du ON true
LEFT JOIN LATERAL ({USER} = t.claimed_by_id OFFSET 0) cu ON true
LEFT JOIN LATERAL ({USER} = t.handler_id OFFSET 0) hu ON true
LEFT JOIN accounts_department rd ON rd.id = t.reporter_department_id
LEFT JOIN accounts_department d ON d.id = t.department_id
LEFT JOIN workorders_category cat ON cat.id = t.category_id
LEFT JOIN workorders_category cp ON cp.id = cat.parent_id
WHERE t.id = ANY(%(ids)s::bigint[])
OFFSET 0
"""

# One CSV field per column, in the order of `exports.ticket_headers`.
FIELDS = [
    _text("s.number"),
    _label("channel", "s.channel"),
    _label("state", "s.state"),
    "s.ru",
    _text("s.rd"),
    "s.reported_at",
    _neut("s.customer_name"),
    PHONE,
    _neut("s.customer_region"),
    "s.star_level",
    _yn("s.is_elderly"),
    _yn("s.claimed_escalation"),
    _text("s.cat"),
    _label("urgency", "s.urgency"),
    _neut("s.urgency_reason"),
    _neut("s.description"),
    "s.dispatched_at",
    "s.du",
    _text("s.d"),
    _text("s.co"),
    "s.claimed_at",
    "s.cu",
    "s.hu",
    "s.return_count",
    _neut("s.last_return_reason"),
    _case("ruling", "s.last_return_ruling"),
    "s.redispatch_count",
    "s.extension_count",
    "s.original_due_at",
    "s.due_at",
    "s.suspension_count",
    "s.paused",
    "s.replied_at",
    _neut("s.reply_result"),
    _case("cause", "s.reply_cause"),
    "s.visit_at",
    _case("outcome", "s.visit_outcome"),
    "(CASE WHEN s.visit_resolved THEN %(yes)s WHEN NOT s.visit_resolved THEN %(no)s END)",
    _case("satisfaction", "s.visit_satisfaction"),
    _case("visit_channel", "s.visit_channel"),
    "s.closed_at",
    "s.net",
    _yn("s.over_seconds IS NOT NULL"),
    _hours("s.over_seconds / 3600.0", 1),
    "s.chase_count",
    "s.supervise_count",
    "s.redo_count",
    _yn("s.is_repeat"),
    _text("s.rp"),
]

# COPY in CSV format quotes as csv.writer's QUOTE_MINIMAL does (a field holding a comma, a
# quote, CR or LF; quotes doubled) and writes NULL as nothing; only its line end differs (LF,
# made CRLF by `_crlf`). Non-text columns go through their types' output functions, as ::text.
COPY = (
    f"COPY (SELECT {', '.join(FIELDS)} FROM ({INNER}) s ORDER BY s.id) TO STDOUT WITH (FORMAT csv)"
)


def _ids_sql(qs) -> str:
    """The next %(chunk)s ids of the export's queryset after %(last)s, as one array in its
    text form ("{1,2,3}"; the queryset's own parameters bound as literals by the driver)."""
    sql, params = qs.order_by().values(export_id=F("pk")).query.sql_with_params()
    with connections[read_alias()].cursor() as cur:
        literal = cur.mogrify(sql, params).decode()
    return (
        f"SELECT ARRAY(SELECT f.export_id FROM ({literal.replace('%', '%%')}) f "
        "WHERE f.export_id > %(last)s ORDER BY f.export_id LIMIT %(chunk)s)::text"
    )


def _crlf(data: bytes, rows: int) -> bytes:
    """COPY's LF line ends as CRLF, leaving line breaks inside quoted fields as they are. With
    as many LFs as rows, none is inside a field (each row ends with one): a plain replace.
    Otherwise outside quotes a quote only opens a field, so splitting on quotes alternates
    between outside (even pieces) and inside (odd ones; a doubled quote adds an empty outside
    piece)."""
    if data.count(b"\n") == rows:
        return data.replace(b"\n", b"\r\n")
    pieces = data.split(b'"')
    pieces[::2] = [p.replace(b"\n", b"\r\n") for p in pieces[::2]]
    return b'"'.join(pieces)


class _Sink:
    """The file COPY writes into: psycopg2 calls `write` once per row."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.write = self.parts.append


def _params(user, now: datetime) -> dict:
    return {
        "now": now,
        "ws": WHITESPACE,
        "yes": _("是"),
        "no": _("否"),
        **{
            f"{param}_{value}": str(label)
            for param, enum in ENUMS.items()
            for value, label in enum.choices
        },
        "full_phone": user is not None and can_see_full_phone(user),
        "uid": getattr(user, "pk", None),
        "ids": "@IDS@",
        "lo": "@LO@",
        "hi": "@HI@",
    }


def _id_arrays(cur, qs) -> Iterator[str]:
    """The export's ids, `REPORTS_EXPORT_PG_CHUNK` at a time, each chunk as an array's text."""
    sql = _ids_sql(qs)
    chunk = settings.REPORTS_EXPORT_PG_CHUNK
    last = 0
    while True:
        cur.execute(sql, {"last": last, "chunk": chunk})
        ids = cur.fetchone()[0]
        if ids == "{}":
            return
        yield ids
        if ids.count(",") + 1 < chunk:
            return
        last = int(ids[1:-1].rsplit(",", 1)[-1])


def _copy_chunk(cur, copy: str, ids: str) -> tuple[int, bytes]:
    """(rows, CSV bytes) of the orders `ids`, in a transaction of its own."""
    # JIT compiled the expressions for 0.3 s per chunk and saved nothing. Ten joins took 50 ms
    # to plan per chunk; the order written is the good one. Knowing the chunk's 10,000 ids,
    # the planner hashes or sorts for them (it hashed every order to find repeats' numbers,
    # and sorted 4 MB for a merge join with the clocks): index lookups per order cost a third
    # less. A sort that remains stays in memory. Parallel workers (two per chunk at 1M
    # orders) did only the joins and handed every row to the backend that evaluates the
    # values: beside the export's other connection they cost more than they saved.
    cur.execute(
        "SET LOCAL jit = off; SET LOCAL join_collapse_limit = 1; SET LOCAL datestyle = 'ISO'; "
        "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
        "SET LOCAL max_parallel_workers_per_gather = 0; "
        "SET LOCAL work_mem = '64MB'"
    )
    # Django reads timestamps as UTC: the zone is put back before anything else runs in the
    # transaction (SET LOCAL would last to the end of an enclosing one).
    cur.execute(
        "SELECT current_setting('TimeZone'), set_config('TimeZone', %s, true)",
        [settings.TIME_ZONE],
    )
    zone = cur.fetchone()[0]
    sink = _Sink()
    # Bound once per export; each chunk puts its ids (digits and commas only) and their
    # range in place.
    inner = ids[1:-1]  # "{first,...,last}", ascending
    lo, hi = inner.split(",", 1)[0], inner.rsplit(",", 1)[-1]
    sql = copy.replace("'@IDS@'", f"'{ids}'").replace("'@LO@'", lo).replace("'@HI@'", hi)
    cur.copy_expert(sql, sink)
    count = cur.rowcount
    cur.execute("SELECT set_config('TimeZone', %s, true)", [zone])
    data = b"".join(sink.parts)
    del sink.parts[:]  # two copies of the chunk at a time, not three
    return count, _crlf(data, count)


def ticket_csv_chunks(*, user, qs, now: datetime) -> Iterator[tuple[int, bytes]]:
    """(rows, CSV bytes in UTF-8) per chunk of the orders in `qs`, in primary-key order.
    With `REPORTS_EXPORT_PG_WORKERS` > 1, that many chunks are rendered at once, each on a
    connection of its own (PostgreSQL renders a query on one core), unless the caller is in
    a transaction."""
    alias = read_alias()
    with connections[alias].cursor() as cur:
        copy = cur.mogrify(COPY, _params(user, now)).decode()
    workers = settings.REPORTS_EXPORT_PG_WORKERS
    # Inside a transaction (a caller's, or a test's) other connections would not see what it
    # wrote nor read its snapshot: everything then runs on its connection.
    if workers > 1 and not connections[alias].in_atomic_block:
        yield from _parallel(alias, qs, copy, workers)
        return
    with connections[alias].cursor() as ids_cur:
        for ids in _id_arrays(ids_cur, qs):
            with transaction.atomic(using=alias), connections[alias].cursor() as cur:
                yield _copy_chunk(cur, copy, ids)


def _parallel(alias: str, qs, copy: str, workers: int) -> Iterator[tuple[int, bytes]]:
    """Chunks rendered `workers` at a time, yielded in order: the ids come from the request's
    connection, each COPY runs on one of `workers` connections of this export's own (closed at
    the end), and at most `workers` chunks are rendered ahead of the one being sent, so memory
    stays flat. Each chunk reads its own snapshot, as on one connection."""
    wrapper = connections[alias]
    pool = queue.SimpleQueue()
    opened = []

    def run(ids: str) -> tuple[int, bytes]:
        conn = pool.get()
        try:
            with conn.cursor() as cur:
                out = _copy_chunk(cur, copy, ids)
            conn.rollback()  # read only: ends the transaction and its settings
            return out
        finally:
            pool.put(conn)

    try:
        for _i in range(workers):
            opened.append(wrapper.Database.connect(**wrapper.get_connection_params()))
            pool.put(opened[-1])
        with ThreadPoolExecutor(workers) as threads, wrapper.cursor() as ids_cur:
            ahead: deque[Future] = deque()
            try:
                for ids in _id_arrays(ids_cur, qs):
                    ahead.append(threads.submit(run, ids))
                    # The next `workers` chunks are submitted before one is sent: every
                    # connection renders while the request sends and fetches the next ids.
                    if len(ahead) > workers:
                        yield ahead.popleft().result()
                while ahead:
                    yield ahead.popleft().result()
            finally:
                for future in ahead:
                    future.cancel()
    finally:
        for conn in opened:
            conn.close()
