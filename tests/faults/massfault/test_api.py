"""/api/v1/faults/: list, detail and the actions, with the API's error shape, ETag/If-Match
and Idempotency-Key rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault, FaultAudit, FaultState
from tests.api.conftest import client_for
from workorders.models import State

from .conftest import order, orders_near

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fault(cast, net):
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now)
    fault_detect(now=now)
    return Fault.objects.get()


def url(fault, action=""):
    return f"/api/v1/faults/{fault.number}/" + (f"{action}/" if action else "")


def test_list_and_detail_follow_who_may_see(cast, fault):
    for role in ("dispatcher", "supervisor", "auditor", "lead", "handler"):
        r = client_for(cast.by_role(role)).get("/api/v1/faults/")
        assert r.status_code == 200, role
        assert [f["number"] for f in r.json()["results"]] == [fault.number], role
    # Not the business line's lead (the fault is the network line's), not the frontline.
    for user in (cast.other_lead, cast.frontline):
        assert client_for(user).get("/api/v1/faults/").json()["results"] == []
        r = client_for(user).get(url(fault))
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


def test_detail_has_an_etag_children_and_the_audit(cast, fault):
    r = client_for(cast.dispatcher).get(url(fault))
    assert r.status_code == 200
    assert r["ETag"] == f'"{fault.number}-v{fault.version}"'
    body = r.json()
    assert body["state"] == "suspected" and body["order_count"] == 5
    assert len(body["children"]) == 5 and body["children"][0]["how"] == "auto"
    assert [a["transition"] for a in body["audit"]] == ["detect"]


def test_confirm_with_if_match_and_a_stale_etag(cast, fault):
    api = client_for(cast.dispatcher)
    stale = f'"{fault.number}-v0"'
    r = api.post(url(fault, "confirm"), {}, format="json", HTTP_IF_MATCH=stale)
    assert r.status_code == 412 and r.json()["error"]["code"] == "stale"
    etag = api.get(url(fault))["ETag"]
    eta = (timezone.now() + timedelta(hours=2)).isoformat()
    r = api.post(
        url(fault, "confirm"), {"eta": eta, "message": "抢修中"}, format="json", HTTP_IF_MATCH=etag
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["state"] == "confirmed" and body["eta"] is not None
    assert len(body["result"]) == 5 and all(c["done"] for c in body["result"])
    assert r["ETag"] != etag


def test_an_action_by_a_role_without_the_right_is_403_in_the_error_shape(cast, fault):
    r = client_for(cast.lead).post(url(fault, "confirm"), {}, format="json")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert Fault.objects.get().state == FaultState.SUSPECTED


def test_a_wrong_state_is_409(cast, fault):
    r = client_for(cast.lead).post(url(fault, "resolve"), {"public_reply": "已恢复"}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
    assert "疑似" in r.json()["error"]["message"]


def test_idempotency_key_replays_the_first_answer(cast, fault):
    api = client_for(cast.dispatcher)
    body = {"reason": "不是群障"}
    first = api.post(url(fault, "dismiss"), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(url(fault, "dismiss"), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert FaultAudit.objects.filter(transition="dismiss").count() == 1
    other = api.post(
        url(fault, "dismiss"), {"reason": "另一个"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422


def test_link_refusals_name_each_order(cast, net, fault):
    now = timezone.now()
    billing = order(cast, net.billing, at=now)
    ok = order(cast, net.coverage, at=now, region="别处")
    r = client_for(cast.dispatcher).post(
        url(fault, "link"),
        {"tickets": [billing.number, ok.number, "GD19990101000001"]},
        format="json",
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid"
    assert any("GD19990101000001" in m for m in err["fields"]["tickets"])
    r = client_for(cast.dispatcher).post(
        url(fault, "link"), {"tickets": [billing.number, ok.number]}, format="json"
    )
    assert r.status_code == 400
    assert any(billing.number in m for m in r.json()["error"]["fields"]["tickets"])
    r = client_for(cast.dispatcher).post(
        url(fault, "link"), {"tickets": [ok.number]}, format="json"
    )
    assert r.status_code == 200 and r.json()["order_count"] == 6


def test_unlink_eta_resolve_through_the_api(cast, fault):
    disp, lead = client_for(cast.dispatcher), client_for(cast.lead)
    assert disp.post(url(fault, "confirm"), {}, format="json").status_code == 200
    child = Fault.objects.get().links.first().ticket
    r = disp.post(url(fault, "unlink"), {"ticket": child.number, "reason": ""}, format="json")
    assert r.status_code == 400 and "reason" in r.json()["error"]["fields"]
    r = disp.post(url(fault, "unlink"), {"ticket": child.number, "reason": "误报"}, format="json")
    assert r.status_code == 200 and r.json()["order_count"] == 4
    r = lead.post(url(fault, "eta"), {"eta": None}, format="json")
    assert r.status_code == 400 and "eta" in r.json()["error"]["fields"]
    eta = (timezone.now() + timedelta(hours=1)).isoformat()
    assert lead.post(url(fault, "eta"), {"eta": eta}, format="json").status_code == 200
    r = lead.post(url(fault, "resolve"), {"public_reply": "已恢复正常"}, format="json")
    assert r.status_code == 200
    result = r.json()["result"]
    assert len(result) == 4 and all(c["done"] for c in result)
    assert Fault.objects.get().state == FaultState.RESOLVED
    child.refresh_from_db()
    assert child.state == State.DISPATCHED  # unlinked: not replied
    assert disp.post(url(fault, "close"), {}, format="json").json()["state"] == "closed"


def test_unknown_fault_and_bad_filters(cast, fault):
    api = client_for(cast.dispatcher)
    assert api.get("/api/v1/faults/QZ199901010001/").status_code == 404
    r = api.get("/api/v1/faults/?state=nope")
    assert r.status_code == 400 and "state" in r.json()["error"]["fields"]
    assert api.get("/api/v1/faults/?state=suspected").json()["results"][0]["number"] == fault.number
