"""A hand-built week of orders whose KPIs are worked out by hand in test_kpis.py.

All times Asia/Shanghai; T0 = Monday 2026-11-02 09:00. General urgency: dispatch 2 h,
sign-for 2 h, promise 48 h, visit 24 h.

| order | path | promise (net h) | notes |
|---|---|---|---|
| o1 | dispatch +1h, claim +2h, reply +10h, visit: resolved, 满意 | met (10) | first-time |
| o2 | dispatch +3h (late) to 业务管理, claim +5h (late), reply +50h, 基本满意 | missed (50) | |
| o3 | extension +24h, reply +60h, unresolved, 不满意 | orig. missed, eff. met (60) | |
| o4 | suspended +2h..+22h (20 h paused), reply +60h, resolved, 满意 | met (40) | |
| o5 | reply +5h, unsatisfied visit → redo, reply +10h, resolved, 满意 | met (10) | redone |
| o6 | return requested +1.5h, rejected +2h, claim +5h (late), reply +6h, unreachable | met (6) | |
| o7 | dispatched +1h, not signed for; same phone+category as o1 → repeat | open | |
| o8 | cancelled +0.5h | voided | |
| o9 | reported T0 + 7 days, closed within the day, resolved, 满意 | met (3) | week 2 |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import report
from workorders import services

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _close(cast, t, at, *, outcome="success", resolved=True, satisfaction="satisfied"):
    services.ticket_close(
        ticket=t,
        by=cast.dispatcher,
        outcome=outcome,
        resolved=resolved if outcome == "success" else None,
        satisfaction=satisfaction if outcome == "success" else "",
        now=at,
    )


def _reply(cast, t, at, by=None):
    services.ticket_reply(
        ticket=t,
        by=by or cast.handler,
        result="已处理完毕",
        cause="network",
        resolved=True,
        now=at,
    )


def build_world(cast) -> dict:
    d, net = cast.dispatcher, cast.network
    w = {}

    def new(name, phone, at=T0, **kw):
        w[name] = report(
            cast,
            now=at,
            phone=phone,
            customer_name=f"客户{name}",
            customer_region="杭州",
            **kw,
        )
        return w[name]

    t = new("o1", "13900000001")
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(1))
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=h(2))
    _reply(cast, t, h(10))
    _close(cast, t, h(12))

    t = new("o2", "13900000002", channel="counter")
    services.ticket_dispatch(ticket=t, by=d, department=cast.business, now=h(3))
    services.ticket_claim(ticket=t, by=cast.other_lead, now=h(5.5))
    _reply(cast, t, h(50), by=cast.other_lead)
    _close(cast, t, h(51), satisfaction="basically")

    t = new("o3", "13900000003")
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(1))
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=h(2))
    req = services.ticket_request_extension(
        ticket=t, by=cast.handler, hours=24, reason="需要厂家配合更换设备", now=h(10)
    )
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True, now=h(11))
    t.refresh_from_db()
    _reply(cast, t, h(60))
    _close(cast, t, h(61), resolved=False, satisfaction="unsatisfied")

    t = new("o4", "13900000004")
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(1))
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=h(2))
    services.ticket_suspend(ticket=t, by=cast.lead, reason="unreachable", until=h(30), now=h(2))
    services.ticket_resume(ticket=t, by=cast.lead, now=h(22))
    _reply(cast, t, h(60))
    _close(cast, t, h(62))

    t = new("o5", "13900000005")
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(1))
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=h(2))
    _reply(cast, t, h(5))
    services.ticket_propose_redo(
        ticket=t,
        by=d,
        reason="客户表示仍然掉线",
        resolved=False,
        satisfaction="unsatisfied",
        now=h(6),
    )
    services.ticket_redo(ticket=t, by=cast.supervisor, now=h(7))
    _reply(cast, t, h(10))
    _close(cast, t, h(11))

    t = new("o6", "13900000006", channel="hotline")
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(1))
    services.ticket_request_return(ticket=t, by=cast.lead, reason="非本部门问题", now=h(1.5))
    services.ticket_rule_return(
        ticket=t, by=d, uphold=False, comment="属于网络保障，请处理", now=h(2)
    )
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=h(5))
    _reply(cast, t, h(6))
    _close(cast, t, h(7), outcome="unreachable")

    t = new("o7", "13900000001", at=h(0.5))
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(1))

    t = new("o8", "13900000008", at=h(0.2))
    services.ticket_cancel(ticket=t, by=d, reason="重复报单", now=h(0.5))

    t = new("o9", "13900000009", at=h(24 * 7))
    services.ticket_dispatch(ticket=t, by=d, department=net, now=h(24 * 7 + 0.5))
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=h(24 * 7 + 1))
    _reply(cast, t, h(24 * 7 + 3))
    _close(cast, t, h(24 * 7 + 4))

    for t in w.values():
        t.refresh_from_db()
    return w


@pytest.fixture(autouse=True)
def settings_fast_hash(settings):
    # The cast creates eight users; the production hasher makes each test seconds slower.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(cast):
    return build_world(cast)
