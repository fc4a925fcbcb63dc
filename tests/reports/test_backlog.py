"""The KPI page's backlog (open orders by state × age band, and the breached count) equals the
one grouped query it replaced, for several instants, users and scopes; it takes two queries;
the breached list is read in the order of an index over open orders. SQLite and PostgreSQL
(the plan checks PostgreSQL only)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection
from django.db.models import Case, CharField, Count, Value, When

from reports import kpis
from sla.models import SlaStatus
from sla.selectors import sla_status_q
from workorders.models import OPEN_STATES, CoHandling, Ticket

from .conftest import TZ, h
from .test_report_figures import _random_world, _scopes

pytestmark = pytest.mark.django_db

INSTANTS = (
    datetime(2026, 10, 20, 12, tzinfo=TZ),
    datetime(2026, 11, 10, 12, tzinfo=TZ),
    datetime(2026, 12, 31, tzinfo=TZ),
)


def _one_grouped_query(*, user, scope, now) -> dict:
    """The backlog as it was computed before: one pass over every open order in scope, the
    band a CASE (defaulting to the first band) and the breached count a conditional count."""
    qs = kpis.backlog_tickets(user=user, scope=scope)
    whens = [When(kpis.age_band_q(c, now), then=Value(c)) for c, *_r in kpis.AGE_BANDS]
    rows = (
        qs.annotate(band=Case(*whens, default=Value("lt1d"), output_field=CharField()))
        .values("state", "band")
        .annotate(n=Count("pk"), breached=Count("pk", filter=sla_status_q(SlaStatus.BREACHED, now)))
        .order_by()
    )
    table = {s: {c: 0 for c, *_r in kpis.AGE_BANDS} for s in OPEN_STATES}
    breached = 0
    for r in rows:
        table[r["state"]][r["band"]] += r["n"]
        breached += r["breached"]
    return {"table": table, "breached": breached}


def _as_compared(b: dict) -> dict:
    return {"table": {r["state"]: r["bands"] for r in b["by_state"]}, "breached": b["breached"]}


def test_backlog_equals_the_one_grouped_query(cast):
    _random_world(cast)
    # Open orders each line sees only as a co-handling department: a lead's backlog is read
    # in two parts (his departments' orders, the others he sees), which must not overlap.
    open_orders = list(Ticket.objects.open().order_by("pk"))
    for i, t in enumerate(open_orders[:8]):
        other = cast.network if t.department_id == cast.business.pk else cast.business
        CoHandling.objects.create(ticket=t, department=other, created_at=t.reported_at)
        if i % 2:  # and one co-handled by its own department too
            dept = t.department or cast.network
            CoHandling.objects.get_or_create(
                ticket=t, department=dept, defaults={"created_at": t.reported_at}
            )
    assert (
        CoHandling.objects.filter(department=cast.business)
        .exclude(ticket__department=cast.business)
        .exists()
    )
    for now in INSTANTS:
        for user in (cast.auditor, cast.other_lead, cast.lead, cast.handler):
            for scope in _scopes(cast):
                got = kpis.backlog(user=user, scope=scope, now=now)
                want = _one_grouped_query(user=user, scope=scope, now=now)
                assert _as_compared(got) == want, (now, user, scope)
                assert got["total"] == sum(sum(b.values()) for b in want["table"].values())
    every = kpis.backlog(user=cast.auditor, now=INSTANTS[1])
    assert every["breached"] > 0
    assert sum(1 for r in every["by_state"] for n in r["bands"].values() if n) > 3


def test_backlog_takes_two_queries(world, cast, django_assert_num_queries):
    kpis.backlog(user=cast.auditor)  # the user's permissions, cached on him as in a request
    with django_assert_num_queries(2):
        b = kpis.backlog(user=cast.auditor, now=h(24 * 7 + 10))
    assert (b["total"], b["breached"]) == (1, 1)


def test_breached_list_is_most_overdue_first(cast):
    _random_world(cast)
    now = INSTANTS[2]
    listed = list(kpis.breached_tickets(user=cast.auditor, now=now)[:5])
    assert len(listed) == 5
    keys = [(t.promise_due_at, t.pk) for t in listed]
    assert keys == sorted(keys)
    everyone = kpis.breached_tickets(user=cast.auditor, now=now)
    assert everyone.count() == kpis.backlog(user=cast.auditor, now=now)["breached"]
    assert everyone.count() > 5
    assert listed == list(everyone.order_by("promise_due_at", "pk")[:5])


def _plan(sql: str, params, *settings: str) -> str:
    with connection.cursor() as cur:
        # A test database holds a few hundred orders and the planner sorts a dozen rows
        # rather than walk an index: price the whole-table read and the sort as at a million
        # orders, so the plan shows whether an index answers the query in its order.
        for name in settings:
            cur.execute(f"SET LOCAL {name} = off")
        cur.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cur.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_breached_list_walks_the_open_orders_index(cast):
    from django.db import transaction

    _random_world(cast)
    now = INSTANTS[2]
    page = kpis.breached_tickets(user=cast.auditor, now=now).select_related(
        "department", "category", "category__parent", "promise_clock"
    )[:20]
    with transaction.atomic():
        plan = _plan(*page.query.sql_with_params(), "enable_seqscan", "enable_sort")
        # A LIMITed walk of ticket_open_due, not a sort of every breached order.
        assert "Limit" in plan and "ticket_open_due" in plan, plan
        assert "Sort" not in plan, plan
