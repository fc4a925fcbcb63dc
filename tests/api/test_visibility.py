"""Each endpoint × each role: allowed, 403 (may see, may not act) or 404 (may not see)."""

import pytest
from rest_framework.test import APIClient

from tests.factories import ticket_in_state

ROLES = [
    "frontline",
    "other_frontline",
    "dispatcher",
    "lead",
    "handler",
    "other_lead",
    "supervisor",
    "auditor",
]

READ_ENDPOINTS = [
    "",
    "timeline/",
    "comments/",
    "attachments/",
    "extensions/",
    "suspensions/",
    "chases/",
    "supervisions/",
]

# An order reported by `frontline`, dispatched to the network line (lead and handler's).
SEES_DISPATCHED = {
    "frontline": 200,  # first-contact owner
    "other_frontline": 404,  # probing someone else's number
    "dispatcher": 200,
    "lead": 200,
    "handler": 200,
    "other_lead": 404,  # another department
    "supervisor": 200,
    "auditor": 200,
}


@pytest.mark.parametrize("role", ROLES)
def test_read_matrix(cast, api, role):
    t = ticket_in_state(cast, "dispatched")
    client = api(role)
    for endpoint in READ_ENDPOINTS:
        r = client.get(f"/api/v1/tickets/{t.number}/{endpoint}")
        assert r.status_code == SEES_DISPATCHED[role], (endpoint, r.content)
        if r.status_code == 404:
            assert r.json()["error"]["code"] == "not_found"


# (method, path suffix, body, {role: status}) on a dispatched order.
WRITE_MATRIX = [
    (
        "comments/",
        {"body": "已联系客户"},
        {
            "frontline": 201,
            "other_frontline": 404,
            "dispatcher": 201,
            "lead": 201,
            "handler": 201,
            "other_lead": 404,
            "supervisor": 201,
            "auditor": 403,
        },
    ),
    (
        "chases/",
        {"note": "请尽快处理"},
        {
            "frontline": 201,
            "other_frontline": 404,
            "dispatcher": 201,
            "lead": 403,
            "handler": 403,
            "other_lead": 404,
            "supervisor": 201,
            "auditor": 403,
        },
    ),
    (
        "supervisions/",
        {"note": "请今日内处理完毕"},
        {
            "frontline": 403,
            "other_frontline": 404,
            "dispatcher": 403,
            "lead": 403,
            "handler": 403,
            "other_lead": 404,
            "supervisor": 201,
            "auditor": 403,
        },
    ),
    (
        "transitions/claim/",
        {},
        {
            "frontline": 403,
            "other_frontline": 404,
            "dispatcher": 403,
            "lead": 200,
            "handler": 200,
            "other_lead": 404,
            "supervisor": 403,
            "auditor": 403,
        },
    ),
    (
        "transitions/request_return/",
        {"reason": "不属于本部门"},
        {
            "frontline": 403,
            "other_frontline": 404,
            "dispatcher": 403,
            "lead": 200,
            "handler": 403,
            "other_lead": 404,
            "supervisor": 403,
            "auditor": 403,
        },
    ),
    (
        "transitions/cancel/",
        {"reason": "重复报单"},
        {
            "frontline": 403,
            "other_frontline": 404,
            "dispatcher": 200,
            "lead": 403,
            "handler": 403,
            "other_lead": 404,
            "supervisor": 403,
            "auditor": 403,
        },
    ),
]


@pytest.mark.parametrize("role", ROLES)
def test_write_matrix(cast, api, role):
    client = api(role)
    for endpoint, body, expected in WRITE_MATRIX:
        t = ticket_in_state(cast, "dispatched", phone=f"1380000{len(endpoint):04d}")
        r = client.post(f"/api/v1/tickets/{t.number}/{endpoint}", body, format="json")
        assert r.status_code == expected[role], (endpoint, r.content)
        if r.status_code >= 400:
            assert set(r.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize(
    ("role", "count"),
    [
        ("frontline", 2),
        ("other_frontline", 0),
        ("dispatcher", 3),
        ("lead", 1),
        ("handler", 1),
        ("other_lead", 0),
        ("supervisor", 3),
        ("auditor", 3),
    ],
)
def test_list_shows_only_what_the_role_sees(cast, api, role, count):
    ticket_in_state(cast, "dispatched")  # network line, reported by frontline
    ticket_in_state(cast, "reported")  # no department yet, reported by frontline
    ticket_in_state(cast, "reported", by=cast.dispatcher, phone="13700000000")
    r = api(role).get("/api/v1/tickets/")
    assert r.status_code == 200
    assert len(r.json()["results"]) == count


def test_transition_on_a_reported_order_by_role(cast, api):
    expected = {
        "frontline": 403,
        "other_frontline": 404,
        "dispatcher": 200,
        "lead": 404,  # not yet in the lead's department
        "handler": 404,
        "other_lead": 404,
        "supervisor": 403,
        "auditor": 403,
    }
    for role, status in expected.items():
        t = ticket_in_state(cast, "reported")
        r = api(role).post(
            f"/api/v1/tickets/{t.number}/transitions/dispatch/",
            {"department": cast.network.pk},
            format="json",
        )
        assert r.status_code == status, (role, r.content)


def test_anonymous_gets_401_everywhere(cast):
    t = ticket_in_state(cast, "reported")
    client = APIClient()
    for path in ["tickets/", f"tickets/{t.number}/", "me/", "categories/", "notifications/"]:
        r = client.get(f"/api/v1/{path}")
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "not_authenticated"


def test_phone_masked_for_roles_that_do_not_call_the_customer(cast, api):
    t = ticket_in_state(cast, "dispatched", phone="13812345678")
    seen = {
        role: api(role).get(f"/api/v1/tickets/{t.number}/").json()["customer"]["phone"]
        for role in ["frontline", "dispatcher", "lead", "handler", "supervisor", "auditor"]
    }
    assert seen["frontline"] == "13812345678"  # the reporter entered it
    assert seen["dispatcher"] == seen["lead"] == seen["handler"] == "13812345678"
    assert seen["supervisor"] == seen["auditor"] == "138****5678"
