"""`accounts.statements`: a statement written once per process runs prepared on PostgreSQL (one
`execute` per call, prepared or not), recovers from a failed call and from a new session, and
runs plain elsewhere; `RowInsert` writes what the ORM's insert writes, with its signals."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.statements import RowInsert, Statement
from notifications.models import Delivery
from sla.models import Clock, SlaPolicy
from tests.factories import report
from workorders.models import AuditEntry, Ticket

pytestmark = pytest.mark.django_db

requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="prepared statements are PostgreSQL's; elsewhere a statement runs as plain SQL",
)


def _run(statement, params):
    with connection.cursor() as cur:
        statement.execute(cur, params)
        return cur.fetchall()


def test_a_statement_returns_what_the_plain_query_returns():
    sql = "SELECT %s || '%%' || %s, %s + 1"
    statement = Statement(sql)
    with connection.cursor() as cur:
        cur.execute(sql, ["a", "b", 41])
        plain = cur.fetchall()
    assert _run(statement, ["a", "b", 41]) == plain == [("a%b", 42)]
    assert _run(statement, ["c", "d", 1]) == [("c%d", 2)]


def test_a_statement_refuses_the_wrong_number_of_parameters():
    if connection.vendor != "postgresql":
        pytest.skip("the count is checked where the statement is prepared (PostgreSQL)")
    with pytest.raises(TypeError, match="2 parameters expected"):
        _run(Statement("SELECT %s, %s"), [1])


@requires_postgres
def test_on_postgresql_it_is_prepared_once_then_only_executed_one_query_each():
    statement = Statement("SELECT count(*) FROM workorders_ticket WHERE id > %s")
    with CaptureQueriesContext(connection) as first:
        assert _run(statement, [0]) == [(0,)]
    with CaptureQueriesContext(connection) as second:
        assert _run(statement, [0]) == [(0,)]
    assert len(first.captured_queries) == len(second.captured_queries) == 1
    assert first.captured_queries[0]["sql"].startswith("PREPARE w")
    assert second.captured_queries[0]["sql"].startswith("EXECUTE w")
    with connection.cursor() as cur:
        cur.execute("SHOW plan_cache_mode")
        assert cur.fetchone()[0] == "force_generic_plan"


@requires_postgres
def test_a_failed_call_is_prepared_again_under_a_new_name():
    statement = Statement("SELECT 1 / %s")
    assert _run(statement, [1]) == [(1,)]
    with pytest.raises(Exception, match="division by zero"), transaction.atomic():
        _run(statement, [0])
    with CaptureQueriesContext(connection) as again:
        assert _run(statement, [1]) == [(1,)]
    assert again.captured_queries[0]["sql"].startswith("PREPARE w")


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_new_session_prepares_again():
    statement = Statement("SELECT %s::int * 2")
    assert _run(statement, [2]) == [(4,)]
    assert _run(statement, [5]) == [(10,)]
    connection.close()  # as after CONN_MAX_AGE or an error: the next query reconnects
    with CaptureQueriesContext(connection) as ctx:
        assert _run(statement, [3]) == [(6,)]
    assert ctx.captured_queries[0]["sql"].startswith("PREPARE w")


def test_with_prepared_statements_off_it_is_the_plain_query(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    statement = Statement("SELECT %s + 1")
    with CaptureQueriesContext(connection) as ctx:
        assert _run(statement, [1]) == [(2,)]
    assert not ctx.captured_queries[0]["sql"].startswith(("PREPARE", "EXECUTE"))


# --------------------------------------------------------------------------- RowInsert


def _columns(model, pk) -> dict:
    """The row's columns but its id, its unique number and its auto_now times."""
    row = model.objects.filter(pk=pk).values().get()
    skip = ("id", "number", "promise_clock_id", "created_at", "updated_at")
    return {k: v for k, v in row.items() if k not in skip}


def test_an_insert_writes_what_the_orm_writes(cast):
    first = report(cast, phone="13900000001", star_level=5, title="光猫告警")
    values = {
        f.attname: getattr(first, f.attname)
        for f in Ticket._meta.concrete_fields
        if f.attname not in ("id", "number", "promise_clock_id")
    }
    values.update(latitude=Decimal("31.230416"), longitude=Decimal("121.473701"))
    by_orm = Ticket(number="GD20990101000001", **values)
    by_orm.save(force_insert=True)
    by_insert = Ticket(number="GD20990101000002", **values)
    by_insert.is_priority = False  # derived on the way in, as save() derives it
    RowInsert(Ticket).insert([by_insert])
    assert by_insert.pk is not None and by_insert.pk != by_orm.pk
    assert not by_insert._state.adding
    assert by_insert.is_priority is True
    assert _columns(Ticket, by_insert.pk) == _columns(Ticket, by_orm.pk)
    # auto_now fields are set on the way in, as the ORM sets them.
    stamps = Ticket.objects.filter(pk=by_insert.pk).values("created_at", "updated_at").get()
    assert stamps["created_at"] >= by_orm.created_at > first.created_at
    assert stamps["updated_at"] == by_insert.updated_at
    # Saved afterwards like any loaded order (its version remembered for the next UPDATE).
    by_insert.title = "改"
    by_insert.save(update_fields=["title"])
    assert Ticket.objects.get(pk=by_insert.pk).title == "改"


def test_several_rows_get_their_ids_in_order(cast):
    ticket = report(cast)
    now = timezone.now()
    policy = ticket.clocks.first().policy
    made = [
        Clock(
            ticket=ticket,
            kind="dispatch",
            policy=policy,
            started_at=now + timedelta(minutes=i),
            target_seconds=60 * i,
            original_due_at=now,
            due_at=now,
            risk_at=now,
        )
        for i in range(3)
    ]
    RowInsert(Clock).insert(made)
    for clock in made:
        assert Clock.objects.get(pk=clock.pk).target_seconds == clock.target_seconds


def test_an_insert_sends_the_save_signals(cast):
    ticket = report(cast)
    seen = []

    def pre(sender, instance, raw, update_fields, **kw):
        seen.append(("pre", instance.pk, raw, update_fields))

    def post(sender, instance, created, raw, update_fields, **kw):
        seen.append(("post", instance.pk, created, raw, update_fields))

    pre_save.connect(pre, sender=AuditEntry, weak=False)
    post_save.connect(post, sender=AuditEntry, weak=False)
    try:
        entry = AuditEntry(
            ticket=ticket, transition="comment", actor=cast.frontline, at=ticket.reported_at
        )
        RowInsert(AuditEntry).insert([entry])
    finally:
        pre_save.disconnect(pre, sender=AuditEntry)
        post_save.disconnect(post, sender=AuditEntry)
    assert seen == [("pre", None, False, None), ("post", entry.pk, True, False, None)]


def test_ignore_conflicts_skips_a_row_that_exists(cast):
    ticket = report(cast)
    inserter = RowInsert(Delivery, ignore_conflicts=True)
    now = timezone.now()

    def row(body):
        return Delivery(
            channel="test",
            key=f"k-{ticket.pk}",
            kind="x",
            ticket=ticket,
            payload={"body": body},
            created_at=now,
            next_attempt_at=now,
        )

    inserter.insert([row("first")])
    inserter.insert([row("second")])
    assert [d.payload["body"] for d in Delivery.objects.filter(key=f"k-{ticket.pk}")] == ["first"]


def test_more_rows_than_a_statement_holds_go_through_the_orm(cast):
    ticket = report(cast)
    rows = [
        AuditEntry(ticket=ticket, transition="comment", actor=cast.frontline, at=ticket.reported_at)
        for _ in range(RowInsert.MAX_ROWS + 1)
    ]
    RowInsert(AuditEntry).insert(rows)
    assert all(r.pk is not None for r in rows)
    assert AuditEntry.objects.filter(ticket=ticket, transition="comment").count() == len(rows)


def test_a_model_whose_save_does_more_is_refused_without_its_hooks():
    with pytest.raises(TypeError, match="overrides save"):
        RowInsert(SlaPolicy)


def test_a_duplicate_is_the_databases_error(cast):
    ticket = report(cast)
    copy = Ticket(**{f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields})
    copy.pk = None
    copy.promise_clock_id = None
    with pytest.raises(IntegrityError), transaction.atomic():
        RowInsert(Ticket).insert([copy])  # the same number
