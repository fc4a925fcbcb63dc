"""The whole life of an order through the API only, with the timeline and the clocks checked
at every step."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils.dateparse import parse_datetime

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def clocks(detail, kind):
    return [c for c in detail["clocks"] if c["kind"] == kind]


def clock(detail, kind):
    return clocks(detail, kind)[-1]


def timeline_names(client, number):
    rows = client.get(f"/api/v1/tickets/{number}/timeline/").json()
    return [r["name"] for r in rows if r["type"] == "transition"]


class Flow:
    def __init__(self, api, traveller):
        self.api = api
        self.traveller = traveller
        self.number = None

    def step(self, role, name, body=None, *, after=timedelta(minutes=10), expect=200):
        self.traveller.shift(after)
        client = self.api(role)
        r = client.post(
            f"/api/v1/tickets/{self.number}/transitions/{name}/", body or {}, format="json"
        )
        assert r.status_code == expect, r.json()
        return r.json()


@pytest.fixture
def flow(api):
    with time_machine.travel(T0, tick=False) as traveller:
        yield Flow(api, traveller)


def test_life_report_to_close_through_the_api(cast, api, flow):
    dispatcher = api("dispatcher")
    # report
    r = api("frontline").post(
        "/api/v1/tickets/",
        {
            "category": cast.category.pk,
            "customer_phone": "13912345678",
            "description": "家里宽带每晚掉线",
            "channel": "field",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    d = r.json()
    flow.number = d["number"]
    assert d["state"] == "reported" and d["stage"] == "discover"
    assert clock(d, "dispatch")["status"] == "on_track"
    promise = clock(d, "promise")
    assert parse_datetime(promise["due_at_original"]) == T0 + timedelta(hours=48)
    assert timeline_names(dispatcher, flow.number) == ["report"]

    # dispatch (10 minutes later: the 2 h dispatch clock is met)
    d = flow.step("dispatcher", "dispatch", {"department": cast.network.pk})
    assert d["state"] == "dispatched" and d["department"]["id"] == cast.network.pk
    assert clock(d, "dispatch")["outcome"] == "met"
    assert clock(d, "sign_for")["status"] == "on_track"
    assert timeline_names(dispatcher, flow.number) == ["report", "dispatch"]

    # request_return by the lead: sign_for stops, promise keeps running
    d = flow.step("lead", "request_return", {"reason": "属于业务管理线"})
    assert d["state"] == "return_requested"
    assert clock(d, "sign_for")["stopped_at"] is not None
    assert clock(d, "promise")["stopped_at"] is None
    assert d["counts"]["returns"] == 1

    # rule_return: rejected, back to the same department, a new sign_for clock
    d = flow.step("dispatcher", "rule_return", {"uphold": False, "comment": "确属网络问题"})
    assert d["state"] == "dispatched" and d["last_return_ruling"] == "rejected"
    assert len(clocks(d, "sign_for")) == 2
    assert clock(d, "sign_for")["stopped_at"] is None
    assert d["counts"]["returns_rejected"] == 1

    # claim by the lead, naming the handler
    d = flow.step("lead", "claim", {"handler": cast.handler.pk})
    assert d["state"] == "accepted" and d["handler"]["id"] == cast.handler.pk
    assert clock(d, "sign_for")["outcome"] == "met"

    # suspend for 2 hours: the promise pauses
    until = (T0 + timedelta(days=1)).isoformat()
    d = flow.step("lead", "suspend", {"reason": "appointment", "until": until})
    assert d["state"] == "suspended"
    assert clock(d, "promise")["paused"] is True
    due_before = parse_datetime(clock(d, "promise")["due_at_effective"])
    remaining_at_pause = clock(d, "promise")["remaining_seconds"]

    # two hours later the remaining time has not moved
    flow.traveller.shift(timedelta(hours=2))
    d = dispatcher.get(f"/api/v1/tickets/{flow.number}/").json()
    assert clock(d, "promise")["remaining_seconds"] == remaining_at_pause

    # resume: the due time moves by the paused span
    d = flow.step("handler", "resume", after=timedelta(0))
    assert d["state"] == "accepted"
    promise = clock(d, "promise")
    assert promise["paused"] is False
    assert parse_datetime(promise["due_at_effective"]) == due_before + timedelta(hours=2)
    # No extension: the original due time (for reporting) moves with the pause too.
    assert promise["due_at_original"] == promise["due_at_effective"]

    # reply: the promise stops (met), the visit clock starts
    reply = {"result": "更换光猫后恢复", "cause": "network", "resolved": True}
    d = flow.step("handler", "reply", reply)
    assert d["state"] == "replied" and d["stage"] == "close"
    assert clock(d, "promise")["outcome"] == "met"
    assert clock(d, "visit")["status"] == "on_track"

    # reject_reply: the promise runs again; the visit clock is void
    d = flow.step("dispatcher", "reject_reply", {"reason": "客户反馈仍掉线"})
    assert d["state"] == "accepted"
    assert clock(d, "promise")["stopped_at"] is None
    assert clock(d, "visit")["voided"] is True

    # reply again, then close after a satisfied visit
    d = flow.step("handler", "reply", reply)
    assert d["state"] == "replied"
    d = flow.step(
        "dispatcher",
        "close",
        {"outcome": "success", "resolved": True, "satisfaction": "satisfied"},
    )
    assert d["state"] == "closed" and d["allowed_transitions"] == []
    assert clock(d, "visit")["outcome"] == "met"
    assert clock(d, "promise")["outcome"] == "met"
    assert timeline_names(dispatcher, flow.number) == [
        "report",
        "dispatch",
        "request_return",
        "rule_return",
        "claim",
        "suspend",
        "resume",
        "reply",
        "reject_reply",
        "reply",
        "close",
    ]
    # The reporter sees the same history.
    assert timeline_names(api("frontline"), flow.number)[-1] == "close"


def test_redo_path_through_the_api(cast, api, flow):
    r = api("frontline").post(
        "/api/v1/tickets/",
        {"category": cast.category.pk, "customer_phone": "13912345679", "description": "网速慢"},
        format="json",
    )
    flow.number = r.json()["number"]
    flow.step("dispatcher", "dispatch", {"department": cast.network.pk})
    flow.step("handler", "claim")
    reply = {"result": "已调整端口", "cause": "network", "resolved": True}
    flow.step("handler", "reply", reply)

    # An unsatisfied visit does not close: it proposes a redo.
    d = flow.step(
        "dispatcher",
        "close",
        {"outcome": "success", "resolved": False, "satisfaction": "unsatisfied", "note": "仍慢"},
    )
    assert d["state"] == "replied"
    assert "redo" not in d["allowed_transitions"]  # the dispatcher proposes, not confirms
    names = timeline_names(api("dispatcher"), flow.number)
    assert names[-1] == "propose_redo"

    # The supervisor confirms: back to the department, redo counted, the promise runs again.
    d = flow.step("supervisor", "redo", {"reason": "客户不满意"})
    assert d["state"] == "accepted" and d["counts"]["redos"] == 1
    assert clock(d, "promise")["stopped_at"] is None
    assert clock(d, "visit")["voided"] is True

    flow.step("handler", "reply", reply)
    d = flow.step(
        "dispatcher", "close", {"outcome": "success", "resolved": True, "satisfaction": "basically"}
    )
    assert d["state"] == "closed"
    assert timeline_names(api("supervisor"), flow.number) == [
        "report",
        "dispatch",
        "claim",
        "reply",
        "propose_redo",
        "redo",
        "reply",
        "close",
    ]
