"""The visit channel (DESIGN.md §9) and the customer as an actor: the acting role decides the
default channel; only the customer's own survey is `sms_survey`, and the customer may give a
verdict (close or propose a redo) and nothing else. The public reply is stored apart from the
internal result."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import ticket_in_state
from workorders import services
from workorders.errors import Invalid, NotAllowed
from workorders.models import RedoProposal, State
from workorders.permissions import CUSTOMER_ACTIONS, RULES, acting_role

pytestmark = pytest.mark.django_db


def visit(t, by, **kw):
    kw.setdefault("resolved", True)
    kw.setdefault("satisfaction", "satisfied")
    return services.ticket_visit(ticket=t, by=by, outcome="success", **kw)


def test_dispatcher_callback_is_by_phone_and_frontline_verdict_on_the_spot(cast):
    a = ticket_in_state(cast, State.REPLIED)
    visit(a, cast.dispatcher)
    assert a.visit_channel == "phone"
    assert a.audit.get(transition="close").data["channel"] == "phone"
    b = ticket_in_state(cast, State.REPLIED, phone="13900000001")
    visit(b, cast.frontline)
    assert b.visit_channel == "on_the_spot"


def test_a_caller_may_name_phone_or_on_the_spot_but_never_the_survey(cast):
    t = ticket_in_state(cast, State.REPLIED)
    with pytest.raises(Invalid):
        visit(t, cast.dispatcher, channel="sms_survey")
    with pytest.raises(Invalid):
        visit(t, cast.dispatcher, channel="pigeon")
    visit(t, cast.dispatcher, channel="on_the_spot")
    assert t.visit_channel == "on_the_spot"


def test_system_auto_close_records_no_channel(cast):
    t = ticket_in_state(cast, State.REPLIED)
    services.ticket_close(
        ticket=t, by=None, outcome="not_reached", now=t.replied_at + timedelta(days=3)
    )
    assert t.visit_channel == "" and t.audit.get(transition="close").actor_role == "system"


def test_the_customer_gives_a_verdict_and_nothing_else(cast):
    assert {"close", "propose_redo"} == CUSTOMER_ACTIONS
    for action in RULES:
        expected = "customer" if action in CUSTOMER_ACTIONS else None
        assert acting_role(None, action, customer=True) == expected, action
    assert acting_role(cast.dispatcher, "close", customer=True) is None
    t = ticket_in_state(cast, State.ACCEPTED)
    with pytest.raises(NotAllowed):
        services.ticket_reply(ticket=t, by=None, result="x", cause="network", resolved=True)


def test_customer_verdict_closes_and_proposes_like_a_callback(cast):
    t = ticket_in_state(cast, State.REPLIED)
    visit(t, None, channel="sms_survey", resolved=False, satisfaction="unsatisfied", note="没修好")
    proposal = RedoProposal.objects.get(ticket=t)
    assert proposal.proposed_by is None and proposal.channel == "sms_survey"
    assert t.audit.get(transition="propose_redo").actor_role == "customer"


def test_public_reply_is_stored_apart_from_the_result(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    services.ticket_reply(
        ticket=t,
        by=cast.handler,
        result="内部：基站退服",
        cause="network",
        resolved=True,
        public_reply="  附近基站已修复，信号恢复。  ",
    )
    t.refresh_from_db()
    assert (t.reply_result, t.public_reply) == ("内部：基站退服", "附近基站已修复，信号恢复。")
    u = ticket_in_state(cast, State.ACCEPTED, phone="13900000002")
    with pytest.raises(Invalid) as exc:
        services.ticket_reply(
            ticket=u,
            by=cast.handler,
            result="x",
            cause="network",
            resolved=True,
            public_reply="字" * 1001,
        )
    assert "public_reply" in exc.value.fields
