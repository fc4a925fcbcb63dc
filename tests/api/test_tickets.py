"""List filters, keyset pagination, PATCH, reference data and records."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import report, ticket_in_state
from workorders import services
from workorders.models import Ticket


def numbers(resp):
    assert resp.status_code == 200, resp.content
    return [row["number"] for row in resp.json()["results"]]


def walk(client, url):
    """Every page by `next`; returns the numbers in order."""
    seen = []
    while url:
        body = client.get(url).json()
        seen += [row["number"] for row in body["results"]]
        url = body["next"]
        assert len(seen) <= 1000, "the cursor does not advance"
    return seen


def walk_titles(client, url):
    seen = []
    while url:
        body = client.get(url).json()
        seen += [row["title"] for row in body["results"]]
        url = body["next"]
    return seen


@pytest.fixture
def mixed(cast):
    now = timezone.now()
    rows = []
    for i in range(13):
        kw = {"phone": f"1390000{i:04d}", "now": now - timedelta(hours=i)}
        if i % 4 == 0:
            kw["category"] = cast.urgent_category  # urgent by default
        if i % 3 == 0:
            kw["star_level"] = 5
        if i == 5:
            kw["is_elderly"] = True
        rows.append(report(cast, **kw))
    services.ticket_dispatch(ticket=rows[1], by=cast.dispatcher, department=cast.network)
    services.ticket_dispatch(ticket=rows[2], by=cast.dispatcher, department=cast.business)
    return rows


@pytest.mark.parametrize("ordering", ["priority", "due", "reported", "-reported"])
def test_cursor_pages_cover_the_ordering_exactly(cast, api, mixed, ordering):
    client = api("dispatcher")
    full = numbers(client.get(f"/api/v1/tickets/?ordering={ordering}&page_size=100"))
    assert len(full) == 13
    assert walk(client, f"/api/v1/tickets/?ordering={ordering}&page_size=4") == full


def test_priority_order_is_urgent_then_priority_then_due(cast, api, mixed):
    client = api("dispatcher")
    full = numbers(client.get("/api/v1/tickets/?page_size=100"))
    expected = [
        t.number
        for t in Ticket.objects.order_by("-is_urgent", "-is_priority", "promise_due_at", "id")
    ]
    assert full == expected
    first = Ticket.objects.get(number=full[0])
    assert first.is_urgent


def test_previous_link_goes_back(cast, api, mixed):
    client = api("dispatcher")
    p1 = client.get("/api/v1/tickets/?page_size=4").json()
    p2 = client.get(p1["next"]).json()
    back = client.get(p2["previous"]).json()
    assert [r["number"] for r in back["results"]] == [r["number"] for r in p1["results"]]
    assert p1["previous"] is None


def test_inserts_do_not_shift_pages(cast, api, mixed):
    client = api("dispatcher")
    p1 = client.get("/api/v1/tickets/?ordering=-reported&page_size=4").json()
    expected_p2 = numbers(client.get(p1["next"]))
    report(cast, phone="13700000099")  # newest: would shift an offset page
    assert numbers(client.get(p1["next"])) == expected_p2


def test_filters(cast, api, mixed):
    client = api("dispatcher")
    base = "/api/v1/tickets/?page_size=100&"
    assert set(numbers(client.get(base + "state=dispatched"))) == {
        mixed[1].number,
        mixed[2].number,
    }
    assert numbers(client.get(base + f"department={cast.network.pk}")) == [mixed[1].number]
    assert len(numbers(client.get(base + "stage=discover"))) == 11
    assert len(numbers(client.get(base + "urgency=urgent"))) == 4
    assert len(numbers(client.get(base + "vip=true"))) == 5
    assert numbers(client.get(base + "elderly=true")) == [mixed[5].number]
    assert numbers(client.get(base + "q=00007")) == [mixed[7].number]
    assert numbers(client.get(base + f"q={mixed[3].number}")) == [mixed[3].number]
    assert numbers(client.get(base + f"q={mixed[3].number.lower()}")) == [mixed[3].number]
    by_status = {
        status: set(numbers(client.get(base + f"sla_status={status}")))
        for status in ["on_track", "at_risk", "breached", "met", "missed"]
    }
    assert sum(len(v) for v in by_status.values()) == 13
    # Urgent orders (4 h promise) reported 8 and 12 hours ago are overdue; general ones not.
    assert by_status["breached"] >= {mixed[8].number, mixed[12].number}
    assert all(Ticket.objects.get(number=n).is_urgent for n in by_status["breached"])
    assert len(numbers(client.get(base + f"category={cast.urgent_category.pk}"))) == 4
    assert len(numbers(client.get(base + f"reporter={cast.frontline.pk}"))) == 13
    assert numbers(client.get(base + "repeat=true")) == []
    since = (timezone.now() - timedelta(hours=2, minutes=30)).isoformat()
    r = client.get("/api/v1/tickets/", {"reported_after": since, "page_size": 100})
    assert len(numbers(r)) == 3


def test_sla_status_filter_finds_breached_orders(cast, api):
    old = ticket_in_state(cast, "dispatched", now=timezone.now() - timedelta(days=3))
    ticket_in_state(cast, "dispatched", phone="13600000000")
    r = api("dispatcher").get("/api/v1/tickets/?sla_status=breached")
    assert numbers(r) == [old.number]
    row = r.json()["results"][0]
    assert row["sla_status"] == "breached" and row["sla_remaining_seconds"] < 0


def test_reporter_adds_to_the_description(cast, api):
    t = ticket_in_state(cast, "dispatched")
    r = api("frontline").patch(
        f"/api/v1/tickets/{t.number}/", {"description_addition": "晚上九点后必掉"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert "晚上九点后必掉" in r.json()["description"]
    r = api("dispatcher").patch(
        f"/api/v1/tickets/{t.number}/", {"description_addition": "x"}, format="json"
    )
    assert r.status_code == 403


def test_dispatcher_changes_urgency_with_a_reason(cast, api):
    t = ticket_in_state(cast, "dispatched")
    client = api("dispatcher")
    r = client.patch(f"/api/v1/tickets/{t.number}/", {"urgency": "urgent"}, format="json")
    assert r.status_code == 400 and "urgency_reason" in r.json()["error"]["fields"]
    r = client.patch(
        f"/api/v1/tickets/{t.number}/",
        {"urgency": "urgent", "urgency_reason": "客户声称投诉工信部"},
        format="json",
    )
    assert r.status_code == 200
    body = r.json()
    assert body["urgency"] == "urgent" and body["urgency_reason"] == "客户声称投诉工信部"
    r = api("lead").patch(
        f"/api/v1/tickets/{t.number}/", {"urgency": "general", "urgency_reason": "x"}, format="json"
    )
    assert r.status_code == 403
    assert client.patch(f"/api/v1/tickets/{t.number}/", {}, format="json").status_code == 400


def test_extension_request_and_approval(cast, api):
    t = ticket_in_state(cast, "accepted")
    r = api("handler").post(
        f"/api/v1/tickets/{t.number}/extensions/",
        {"hours": 24, "reason": "需等待厂家备件"},
        format="json",
    )
    assert r.status_code == 201, r.content
    ext = r.json()["id"]
    assert (
        api("handler")
        .post(f"/api/v1/tickets/{t.number}/extensions/{ext}/approve/", {}, format="json")
        .status_code
        == 403
    )
    r = api("supervisor").post(
        f"/api/v1/tickets/{t.number}/extensions/{ext}/approve/", {"note": "同意"}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    d = api("dispatcher").get(f"/api/v1/tickets/{t.number}/").json()
    promise = [c for c in d["clocks"] if c["kind"] == "promise"][-1]
    assert promise["due_at_effective"] != promise["due_at_original"]
    assert d["counts"]["extensions"] == 1


def test_suspension_request_approve_and_refuse(cast, api):
    t = ticket_in_state(cast, "accepted")
    until = (timezone.now() + timedelta(hours=6)).isoformat()
    url = f"/api/v1/tickets/{t.number}/suspensions/"
    r = api("handler").post(url, {"reason": "unreachable", "until": until}, format="json")
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    r = api("lead").post(f"{url}{sid}/refuse/", {"note": " "}, format="json")
    assert r.status_code == 400 and "note" in r.json()["error"]["fields"], r.json()
    r = api("lead").post(f"{url}{sid}/refuse/", {"note": "再联系一次"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "refused"
    r = api("handler").post(url, {"reason": "unreachable", "until": until}, format="json")
    sid = r.json()["id"]
    r = api("lead").post(f"{url}{sid}/approve/", {}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert api("lead").get(f"/api/v1/tickets/{t.number}/").json()["state"] == "suspended"
    assert len(api("lead").get(url).json()) == 2


def test_chase_twice_within_ten_minutes_is_429(cast, api):
    t = ticket_in_state(cast, "dispatched")
    url = f"/api/v1/tickets/{t.number}/chases/"
    assert api("frontline").post(url, {"note": "客户很急"}, format="json").status_code == 201
    r = api("frontline").post(url, {}, format="json")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"


def test_assign_and_cohandling(cast, api):
    t = ticket_in_state(cast, "accepted")
    other = cast.handler
    r = api("lead").post(
        f"/api/v1/tickets/{t.number}/assignment/", {"handler": other.pk}, format="json"
    )
    assert r.status_code == 200 and r.json()["handler"]["id"] == other.pk
    r = api("lead").post(
        f"/api/v1/tickets/{t.number}/cohandlings/",
        {"departments": [cast.business.pk], "note": "请协助核查账务"},
        format="json",
    )
    assert r.status_code == 200
    assert [d["code"] for d in r.json()["co_departments"]] == ["business"]


def test_reference_data_and_notifications(cast, api):
    from notifications.models import Notification

    client = api("handler")
    assert {c["code"] for c in client.get("/api/v1/categories/").json()} >= {
        "broadband_fault",
        "payment_reconnect",
    }
    assert any(d["code"] == "network" for d in client.get("/api/v1/departments/").json())
    for i in range(3):
        Notification.objects.create(
            recipient=cast.handler,
            kind="other",
            title=f"通知{i}",
            key=f"k{i}",
            created_at=timezone.now() - timedelta(minutes=i),
        )
    page = client.get("/api/v1/notifications/?page_size=2").json()
    assert [n["title"] for n in page["results"]] == ["通知0", "通知1"]
    assert len(walk_titles(client, "/api/v1/notifications/?page_size=2")) == 3
    first = page["results"][0]["id"]
    r = client.post("/api/v1/notifications/read/", {"ids": [first]}, format="json")
    assert r.json() == {"marked": 1}
    r = client.post("/api/v1/notifications/read/", {}, format="json")
    assert r.json() == {"marked": 2}
    # Someone else's notifications are not theirs to see.
    assert api("lead").get("/api/v1/notifications/").json()["results"] == []


def walk_back(client, url):
    """From the last page back to the first by `previous`; returns the numbers in order."""
    pages = []
    while url:
        body = client.get(url).json()
        pages.insert(0, [row["number"] for row in body["results"]])
        url = body["previous"]
        assert len(pages) <= 1000, "the cursor does not go back"
    return [n for page in pages for n in page]


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("ordering", ["priority", "due", "risk"])
def test_cursor_pages_walk_exactly_through_ties_and_nulls_both_ways(
    cast, api, mixed, ordering, size
):
    """Many orders share a due time (and some have none), so a page boundary falls inside a
    tie and at the null edge: every order appears once, in order, forwards and back."""
    due = timezone.now() + timedelta(hours=5)
    ids = [t.pk for t in mixed]
    Ticket.objects.filter(pk__in=ids[:6]).update(promise_due_at=due, risk_score=3)
    Ticket.objects.filter(pk__in=ids[6:9]).update(promise_due_at=None, risk_score=3)
    client = api("dispatcher")
    full = numbers(client.get(f"/api/v1/tickets/?ordering={ordering}&page_size=100"))
    assert len(full) == 13
    forward = walk(client, f"/api/v1/tickets/?ordering={ordering}&page_size={size}")
    assert forward == full
    # The last page's `previous` chain leads back over the same orders.
    url, last = f"/api/v1/tickets/?ordering={ordering}&page_size={size}", None
    for _ in range(100):
        body = client.get(url).json()
        last, url = body, body["next"]
        if not url:
            break
    if last["previous"]:
        back = walk_back(client, last["previous"]) + [r["number"] for r in last["results"]]
        assert back == full
