"""The per-process copies of the risk rules and SMS templates (accounts.copies): a report
reads neither table once the copy is warm, and every kind of write is seen by the next one."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Delivery, SmsTemplate
from notifications.sms_channel import ACTIVE_TEMPLATES
from tests.factories import report
from workorders.models import RiskRule, Ticket
from workorders.services.risk import ACTIVE_RULES

NOW = timezone.now().replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture(autouse=True)
def _no_alert(settings):
    settings.RISK_ALERT_THRESHOLD = 101


def score(cast, i: int) -> int:
    t = report(cast, now=NOW, claimed_escalation=True, phone=f"1390000{i:04d}")
    return Ticket.objects.values_list("risk_score", flat=True).get(pk=t.pk)


def test_a_warm_report_reads_neither_table(cast):
    report(cast, now=NOW, phone="13900000001")
    with CaptureQueriesContext(connection) as ctx:
        report(cast, now=NOW, phone="13900000002")
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert RiskRule._meta.db_table not in sql
    assert SmsTemplate._meta.db_table not in sql
    assert Delivery.objects.filter(ticket__customer_phone="13900000002").exists()


def test_a_saved_updated_or_deleted_rule_counts_at_the_next_report(cast):
    rule = RiskRule.objects.get(code="claimed_escalation")
    assert score(cast, 1) == rule.points
    rule.points = 33
    rule.save()
    assert score(cast, 2) == 33
    RiskRule.objects.filter(pk=rule.pk).update(points=34)
    assert score(cast, 3) == 34
    rule.delete()
    assert score(cast, 4) == 0
    RiskRule.objects.bulk_create([RiskRule(code="claimed_escalation", label="x", points=5)])
    assert score(cast, 5) == 5


def test_a_change_rolled_back_is_not_kept(cast):
    points = RiskRule.objects.get(code="claimed_escalation").points
    assert score(cast, 1) == points

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        RiskRule.objects.filter(code="claimed_escalation").update(points=44)
        assert score(cast, 2) == 44  # its own transaction sees its change
        raise Undo
    assert score(cast, 3) == points


def test_another_process_change_is_seen_through_the_stamp(cast):
    """A write in another process bumps the stamp in the shared cache; this process compares
    it at most once a second and then reloads."""
    ACTIVE_TEMPLATES.get()
    assert "accepted" in ACTIVE_TEMPLATES.get()
    with connection.cursor() as cur:  # the other process's write: no signal here
        cur.execute(f"UPDATE {SmsTemplate._meta.db_table} SET active = %s", [False])
    assert "accepted" in ACTIVE_TEMPLATES.get()  # within the second: still the copy
    cache.set(ACTIVE_TEMPLATES.stamp_key, "changed elsewhere", None)
    ACTIVE_TEMPLATES._checked = 0.0  # a second later
    assert ACTIVE_TEMPLATES.get() == {}
    report(cast, now=NOW, phone="13900000003")
    assert not Delivery.objects.exists()


def test_rules_copy_is_the_active_rules(cast):
    assert {r.code for r in ACTIVE_RULES.get()} == set(
        RiskRule.objects.filter(active=True).values_list("code", flat=True)
    )


# --------------------------------------------------------------------------- categories


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_category_written_in_a_rolled_back_transaction_is_never_seen(cast):
    from workorders.models import Category
    from workorders.services import category_by_ref

    assert category_by_ref(cast.category.code).is_active
    with pytest.raises(RuntimeError), transaction.atomic():
        Category.objects.filter(pk=cast.category.pk).update(is_active=False)
        assert not category_by_ref(cast.category.code).is_active  # its own write
        raise RuntimeError
    assert category_by_ref(cast.category.code).is_active
