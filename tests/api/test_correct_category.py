"""更正分类 over the API (POST /tickets/<n>/category/) and the routing rule's suggestion on the
order (`suggested_department`): the same service and rights as the back office."""

import pytest

from tests.factories import CategoryFactory, ticket_in_state
from workorders.models import AuditEntry, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing(db):
    return CategoryFactory(name="计费争议", code="billing_dispute")


def url(t) -> str:
    return f"/api/v1/tickets/{t.number}/category/"


def test_dispatcher_corrects_the_category(cast, api, billing):
    t = ticket_in_state(cast, State.REPORTED)
    r = api("dispatcher").post(
        url(t), {"category": "billing_dispute", "reason": "计费问题"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["category"]["id"] == billing.pk
    assert r.json()["version"] == t.version + 1
    entry = AuditEntry.objects.get(ticket=t, transition="correct_category")
    assert (entry.actor, entry.comment) == (cast.dispatcher, "计费问题")


@pytest.mark.parametrize(("role", "status"), [("lead", 200), ("handler", 403), ("auditor", 403)])
def test_rights_are_the_services(cast, api, billing, role, status):
    t = ticket_in_state(cast, State.ACCEPTED)
    r = api(role).post(url(t), {"category": billing.pk, "reason": "分类错误"}, format="json")
    assert r.status_code == status, r.content
    t.refresh_from_db()
    assert (t.category == billing) is (status == 200)


def test_a_cancelled_order_is_409(cast, api, billing):
    t = ticket_in_state(cast, State.CANCELLED)
    r = api("dispatcher").post(
        url(t), {"category": billing.pk, "reason": "分类错误"}, format="json"
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invalid_state"


def test_a_stale_if_match_is_412_and_changes_nothing(cast, api, billing):
    t = ticket_in_state(cast, State.REPORTED)
    client = api("dispatcher")
    seen = client.get(f"/api/v1/tickets/{t.number}/").headers["ETag"]
    client.patch(
        f"/api/v1/tickets/{t.number}/",
        {"urgency": "urgent", "urgency_reason": "客户投诉升级"},
        format="json",
    )
    r = client.post(
        url(t), {"category": billing.pk, "reason": "计费"}, format="json", HTTP_IF_MATCH=seen
    )
    assert r.status_code == 412
    assert r.json()["error"]["code"] == "stale"
    t.refresh_from_db()
    assert t.category == cast.category


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"category": "no_such", "reason": "x"}, "category", "问题分类不存在：no_such"),
        ({"category": "broadband_fault", "reason": "x"}, "category", "请选择与当前不同的分类。"),
        ({"category": "billing_dispute", "reason": " "}, "reason", "此项为必填项。"),
    ],
)
def test_bad_input_is_a_field_error_in_the_users_language(cast, api, billing, body, field, message):
    t = ticket_in_state(cast, State.REPORTED)
    r = api("dispatcher").post(url(t), body, format="json")
    assert r.status_code == 400, r.content
    assert message in r.json()["error"]["fields"][field]


def test_bad_input_in_english(cast, api, billing):
    t = ticket_in_state(cast, State.REPORTED)
    r = api("dispatcher", lang="en").post(
        url(t), {"category": cast.category.pk, "reason": "x"}, format="json"
    )
    assert r.status_code == 400
    assert r.json()["error"]["fields"]["category"] == [
        "Choose a category other than the current one."
    ]


def test_order_shows_the_routing_rules_department(cast, api):
    cast.category.default_department = cast.business
    cast.category.save()
    t = ticket_in_state(cast, State.REPORTED)
    body = api("dispatcher").get(f"/api/v1/tickets/{t.number}/").json()
    assert body["suggested_department"] == {
        "id": cast.business.pk,
        "name": cast.business.name,
        "code": "business",
    }


def test_no_routing_rule_suggests_nothing(cast, api):
    t = ticket_in_state(cast, State.REPORTED)
    body = api("dispatcher").get(f"/api/v1/tickets/{t.number}/").json()
    assert body["suggested_department"] is None
