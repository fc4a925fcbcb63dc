"""更正分类: who may correct an order's category, what it records, and what follows from it
(the SLA rule for the new category, the reports)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports import kpis
from sla.models import ClockKind, SlaPolicy
from sla.services import sla_rule_save
from tests.factories import CategoryFactory, ticket_in_state
from workorders import services
from workorders.errors import Invalid, InvalidState, NotAllowed, Stale
from workorders.models import AuditEntry, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing(db):
    return CategoryFactory(name="计费争议", code="billing_dispute")


def test_dispatcher_corrects_the_category_with_one_audit_row(cast, billing):
    t = ticket_in_state(cast, State.REPORTED)
    services.ticket_correct_category(
        ticket=t, by=cast.dispatcher, category=billing, reason="客户反映的是计费问题"
    )
    t.refresh_from_db()
    assert t.category == billing
    entry = AuditEntry.objects.get(ticket=t, transition="correct_category")
    assert entry.actor == cast.dispatcher
    assert entry.actor_role == "dispatcher"
    assert entry.comment == "客户反映的是计费问题"
    assert entry.data["from"] == cast.category.code
    assert entry.data["to"] == billing.code
    assert entry.source == entry.target == State.REPORTED


@pytest.mark.parametrize(
    ("role", "state", "allowed"),
    [
        ("dispatcher", State.ACCEPTED, True),
        ("dispatcher", State.CLOSED, True),
        ("lead", State.ACCEPTED, True),  # the order is in the lead's department
        ("lead", State.CLOSED, False),  # a closed order's category is the dispatcher's
        ("other_lead", State.ACCEPTED, False),  # another department's order
        ("handler", State.ACCEPTED, False),
        ("supervisor", State.ACCEPTED, False),
        ("auditor", State.ACCEPTED, False),
        ("frontline", State.ACCEPTED, False),
    ],
)
def test_who_may_correct_the_category(cast, billing, role, state, allowed):
    t = ticket_in_state(cast, state)
    by = cast.by_role(role)
    if allowed:
        services.ticket_correct_category(ticket=t, by=by, category=billing, reason="分类错误")
        t.refresh_from_db()
        assert t.category == billing
    else:
        with pytest.raises(NotAllowed):
            services.ticket_correct_category(ticket=t, by=by, category=billing, reason="分类错误")
        t.refresh_from_db()
        assert t.category == cast.category
        assert not AuditEntry.objects.filter(ticket=t, transition="correct_category").exists()


def test_a_cancelled_order_keeps_its_category(cast, billing):
    t = ticket_in_state(cast, State.CANCELLED)
    with pytest.raises(InvalidState):
        services.ticket_correct_category(
            ticket=t, by=cast.dispatcher, category=billing, reason="分类错误"
        )


@pytest.mark.parametrize(
    ("case", "field"),
    [("same", "category"), ("inactive", "category"), ("none", "category"), ("no_reason", "reason")],
)
def test_bad_input_names_the_field(cast, billing, case, field):
    t = ticket_in_state(cast, State.REPORTED)
    category, reason = billing, "分类错误"
    if case == "same":
        category = cast.category
    elif case == "inactive":
        billing.is_active = False
        billing.save()
    elif case == "none":
        category = None
    elif case == "no_reason":
        reason = "  "
    with pytest.raises(Invalid) as exc:
        services.ticket_correct_category(
            ticket=t, by=cast.dispatcher, category=category, reason=reason
        )
    assert field in exc.value.fields
    t.refresh_from_db()
    assert t.category == cast.category


def test_a_stale_version_changes_nothing(cast, billing):
    t = ticket_in_state(cast, State.REPORTED)
    seen = t.version
    services.ticket_change_urgency(ticket=t, by=cast.dispatcher, urgency="urgent", reason="客户急")
    with pytest.raises(Stale):
        services.ticket_correct_category(
            ticket=t, by=cast.dispatcher, category=billing, reason="分类错误", expected_version=seen
        )
    t.refresh_from_db()
    assert t.category == cast.category


def test_running_promise_follows_the_rule_of_the_new_category(cast, billing):
    # A rule for the new category promises 24 h instead of the general 48 h.
    sla_rule_save(
        rule=SlaPolicy(
            kind=ClockKind.PROMISE, urgency="general", category=billing, target_minutes=24 * 60
        )
    )
    t = ticket_in_state(cast, State.ACCEPTED)
    reported = t.reported_at
    services.ticket_correct_category(
        ticket=t, by=cast.dispatcher, category=billing, reason="计费问题"
    )
    t.refresh_from_db()
    assert t.promise_due_at == reported + timedelta(hours=24)
    entry = AuditEntry.objects.get(ticket=t, transition="correct_category")
    assert ClockKind.PROMISE in entry.data["due"]


def test_reports_count_the_order_under_the_corrected_category(cast, billing):
    t = ticket_in_state(cast, State.CLOSED)
    period = kpis.period_for("week", now=timezone.now())

    def received(category):
        row = kpis.kpi_summary(
            user=cast.auditor, period=period, scope=kpis.Scope(category=category)
        )
        return row.counts["received"], row.counts["closed"]

    assert received(cast.category) == (1, 1)
    assert received(billing) == (0, 0)
    services.ticket_correct_category(
        ticket=t, by=cast.dispatcher, category=billing, reason="计费问题"
    )
    assert received(cast.category) == (0, 0)
    assert received(billing) == (1, 1)
