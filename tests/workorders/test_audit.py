"""The audit trail: every transition writes exactly one row (actor, role, from, to, time,
comment); nothing changes the state any other way; a refused or lost change writes none."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.models import Clock
from tests.factories import report, ticket_in_state
from workorders import services
from workorders.errors import Conflict, InvalidState
from workorders.models import AuditEntry, State, Ticket

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
M = timedelta(minutes=1)


def trail(ticket):
    return list(
        AuditEntry.objects.filter(ticket=ticket)
        .order_by("id")
        .values_list("transition", "source", "target", "actor", "actor_role", "at", "comment")
    )


def test_a_whole_life_writes_one_row_per_step(cast):
    t = report(cast, now=T0, description="宽带掉线")
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=T0 + M)
    services.ticket_request_return(ticket=t, by=cast.lead, reason="应由业务部处理", now=T0 + 2 * M)
    services.ticket_rule_return(
        ticket=t, by=cast.dispatcher, uphold=False, comment="属网络问题", now=T0 + 3 * M
    )
    services.ticket_claim(ticket=t, by=cast.handler, now=T0 + 4 * M)
    services.ticket_suspend(
        ticket=t, by=cast.lead, reason="appointment", until=T0 + 5 * 60 * M, now=T0 + 5 * M
    )
    services.ticket_resume(ticket=t, by=cast.handler, now=T0 + 6 * M)
    services.ticket_reply(
        ticket=t, by=cast.handler, result="已修复", cause="network", resolved=True, now=T0 + 7 * M
    )
    services.ticket_reject_reply(ticket=t, by=cast.dispatcher, reason="未联系客户", now=T0 + 8 * M)
    services.ticket_reply(
        ticket=t, by=cast.lead, result="已上门修复", cause="network", resolved=True, now=T0 + 9 * M
    )
    services.ticket_close(
        ticket=t,
        by=cast.frontline,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
        note="现场确认",
        now=T0 + 10 * M,
    )
    d, f, ld, h = cast.dispatcher.pk, cast.frontline.pk, cast.lead.pk, cast.handler.pk
    assert trail(t) == [
        ("report", "", "reported", f, "frontline", T0, "宽带掉线"),
        ("dispatch", "reported", "dispatched", d, "dispatcher", T0 + M, ""),
        (
            "request_return",
            "dispatched",
            "return_requested",
            ld,
            "lead",
            T0 + 2 * M,
            "应由业务部处理",
        ),
        (
            "rule_return",
            "return_requested",
            "dispatched",
            d,
            "dispatcher",
            T0 + 3 * M,
            "属网络问题",
        ),
        ("claim", "dispatched", "accepted", h, "handler", T0 + 4 * M, ""),
        ("suspend", "accepted", "suspended", ld, "lead", T0 + 5 * M, "客户预约上门时间"),
        ("resume", "suspended", "accepted", h, "handler", T0 + 6 * M, ""),
        ("reply", "accepted", "replied", h, "handler", T0 + 7 * M, "已修复"),
        ("reject_reply", "replied", "accepted", d, "dispatcher", T0 + 8 * M, "未联系客户"),
        ("reply", "accepted", "replied", ld, "lead", T0 + 9 * M, "已上门修复"),
        ("close", "replied", "closed", f, "frontline", T0 + 10 * M, "现场确认"),
    ]


def test_redispatch_redo_and_cancel_rows(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    services.ticket_redispatch(
        ticket=t, by=cast.dispatcher, department=cast.business, reason="计费问题", now=T0 + 10 * M
    )
    row = AuditEntry.objects.filter(ticket=t).latest("id")
    assert (row.transition, row.source, row.target, row.actor_role, row.comment) == (
        "redispatch",
        "accepted",
        "dispatched",
        "dispatcher",
        "计费问题",
    )
    assert row.data == {"from": cast.network.name, "department": cast.business.name}

    r = ticket_in_state(cast, State.REPLIED, now=T0, phone="13900139001")
    services.ticket_propose_redo(ticket=r, by=cast.dispatcher, reason="客户不满意", now=T0 + 9 * M)
    n = AuditEntry.objects.filter(ticket=r).count()
    services.ticket_redo(ticket=r, by=cast.supervisor, now=T0 + 10 * M)
    rows = list(AuditEntry.objects.filter(ticket=r).order_by("id"))[n:]
    assert [(a.transition, a.source, a.target, a.actor_id, a.actor_role) for a in rows] == [
        ("redo", "replied", "accepted", cast.supervisor.pk, "supervisor")
    ]

    c = ticket_in_state(cast, State.REPORTED, now=T0, phone="13900139002")
    services.ticket_cancel(
        ticket=c, by=cast.dispatcher, reason="重复工单", duplicate_of=t, now=T0 + M
    )
    row = AuditEntry.objects.filter(ticket=c).latest("id")
    assert (row.transition, row.target, row.comment, row.data) == (
        "cancel",
        "cancelled",
        "重复工单",
        {"duplicate_of": t.number},
    )


def test_state_cannot_be_set_directly(cast):
    t = report(cast, now=T0)
    with pytest.raises(AttributeError):
        t.state = State.CLOSED


def test_a_stale_copy_loses_with_conflict_and_writes_nothing(cast):
    """Two browser tabs: the second acts on what it read before the first acted."""
    t = ticket_in_state(cast, State.DISPATCHED, now=T0)
    first = Ticket.objects.get(pk=t.pk)
    stale = Ticket.objects.get(pk=t.pk)
    also_stale = Ticket.objects.get(pk=t.pk)
    services.ticket_claim(ticket=first, by=cast.lead, now=T0 + 10 * M)
    rows, clocks = AuditEntry.objects.count(), list(Clock.objects.values().order_by("id"))
    with pytest.raises(Conflict):
        # The tab says which version it showed (the forms' hidden field, the API's If-Match).
        services.ticket_claim(
            ticket=stale, by=cast.handler, now=T0 + 11 * M, expected_version=stale.version
        )
    with pytest.raises(InvalidState):
        # Without it, the order is read again under the lock and its state decides.
        services.ticket_claim(ticket=also_stale, by=cast.handler, now=T0 + 11 * M)
    assert AuditEntry.objects.count() == rows
    assert list(Clock.objects.values().order_by("id")) == clocks
    fresh = Ticket.objects.get(pk=t.pk)
    assert (fresh.claimed_by_id, fresh.handler_id) == (cast.lead.pk, None)


def test_record_actions_write_a_row_with_the_role(cast):
    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    services.ticket_change_urgency(
        ticket=t, by=cast.dispatcher, urgency="urgent", reason="影响营业", now=T0 + 10 * M
    )
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=2, reason="等待配件", now=T0 + 11 * M
    )
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True, now=T0 + 12 * M)
    services.ticket_request_cohandling(
        ticket=t, by=cast.lead, departments=[cast.business], note="需核账", now=T0 + 13 * M
    )
    rows = list(
        AuditEntry.objects.filter(ticket=t, at__gte=T0 + 10 * M)
        .order_by("id")
        .values_list("transition", "source", "target", "actor", "actor_role")
    )
    assert rows == [
        ("change_urgency", "accepted", "accepted", cast.dispatcher.pk, "dispatcher"),
        ("extend", "accepted", "accepted", cast.supervisor.pk, "supervisor"),
        ("cohandle", "accepted", "accepted", cast.lead.pk, "lead"),
    ]


def test_texts_the_system_writes_into_the_record_are_in_the_site_language(cast):
    """An English-speaking lead's suspension and an auto-dispatch on an English user's report
    are recorded in 简体中文 like everything else, not in whichever language the actor used."""
    from django.utils import translation

    from tests.factories import CategoryFactory

    t = ticket_in_state(cast, State.ACCEPTED, now=T0)
    routed = CategoryFactory(code="t_auto", default_department=cast.network, auto_dispatch=True)
    with translation.override("en"):
        services.ticket_suspend(
            ticket=t, by=cast.lead, reason="appointment", until=T0 + 60 * M, now=T0 + 10 * M
        )
        auto = report(cast, now=T0, category=routed, phone="13900139009")
    assert AuditEntry.objects.filter(ticket=t).latest("id").comment == "客户预约上门时间"
    assert (
        AuditEntry.objects.get(ticket=auto, transition="dispatch").comment
        == "按分类路由规则自动派单"
    )
