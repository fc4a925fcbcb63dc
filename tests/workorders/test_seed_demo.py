"""`manage.py seed_demo` is idempotent: run twice, the same data and no duplicates."""

from __future__ import annotations

from io import StringIO

from django.apps import apps
from django.core.management import call_command

from workorders import demo
from workorders.models import State, Ticket

APPS = ("accounts", "workorders", "sla", "auth", "notifications", "faults")


def row_counts() -> dict[str, int]:
    return {
        m._meta.label: m._default_manager.count()
        for app in APPS
        for m in apps.get_app_config(app).get_models()
    }


def snapshot():
    return sorted(
        Ticket.objects.values_list(
            "number", "state", "department__code", "category__code", "promise_due_at", "version"
        )
    )


def test_demo_plan_is_a_few_hundred_orders_in_every_state():
    assert {state for state, _n in demo.PLAN} == set(State.values)
    assert sum(n for _state, n in demo.PLAN) >= 200


def test_seed_demo_twice_gives_the_same_data(db, monkeypatch):
    # The full plan walks ~300 orders (~25 s); idempotency does not depend on the count, so
    # the suite runs a smaller plan with every state (the plan itself is checked above).
    monkeypatch.setattr(demo, "PLAN", [(state, 3) for state, _n in demo.PLAN])
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first_counts, first = row_counts(), snapshot()
    text = out.getvalue()
    for username in ("frontline", "dispatcher", "lead", "handler", "supervisor", "auditor"):
        assert username in text
    # The plan's orders, and the mass-fault demo's (faults.demo: one suspected, one confirmed).
    from faults.demo import CLUSTERS

    assert len(first) == 24 + sum(c[4] for c in CLUSTERS) + len(demo.INTAKE_ORDERS)
    # The channel service accounts and the orders they filed through intake.
    assert "cti_hotline" in text and "drf_create_token" in text
    assert Ticket.objects.filter(channel="regulator").exclude(external_id="").count() == 2
    assert set(Ticket.objects.values_list("state", flat=True)) == set(State.values)

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "0 created, 24 already there" in out.getvalue()
    assert row_counts() == first_counts
    assert snapshot() == first


def test_demo_has_reply_templates_and_skills_and_seeding_twice_adds_none(db):
    from workorders.models import HandlerSkill, ReplyTemplate

    depts = demo.seed_reference_data()
    users = demo.seed_accounts(depts, "pw-for-tests-1")
    demo.seed_department_setup(depts, users)
    demo.seed_department_setup(depts, users)
    assert ReplyTemplate.objects.count() == len(demo.REPLY_TEMPLATES)
    assert HandlerSkill.objects.count() == len(demo.SKILLS)
    assert ReplyTemplate.objects.filter(department__code="network").count() == 3
