"""Channel intake (POST /api/v1/intake/): a channel system's service account files orders for
its own channel, idempotently per channel by its own id for the contact, and reads only what
it filed; bad input is a 422 in the API's error shape."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.services import status_link_lookup
from tests.api.conftest import client_for
from tests.api.test_idempotency_and_concurrency import _run_concurrently
from tests.conftest import requires_postgres
from tests.factories import Cast, jpeg_bytes, report, user_with
from workorders.models import AuditEntry, Channel, ChannelAccount, Ticket


def channel_account(channel: str, username: str | None = None):
    user = user_with("channel", username=username or f"sys_{channel}", is_staff=False)
    ChannelAccount.objects.create(user=user, channel=channel)
    return user


def body(cast, **kw):
    return {
        "external_id": "CTI-0001",
        "category": cast.category.code,
        "customer_phone": "13811112222",
        "description": "来电反映宽带频繁掉线",
        "customer_name": "王先生",
        "agent": "工号 8801 李娜",
        **kw,
    }


def test_intake_files_an_order_for_the_accounts_channel_with_status_link(cast, settings):
    client = client_for(channel_account(Channel.HOTLINE))
    r = client.post("/api/v1/intake/", body(cast), format="json")
    assert r.status_code == 201, r.content
    data = r.json()
    ticket = Ticket.objects.get(number=data["number"])
    assert ticket.channel == Channel.HOTLINE
    assert ticket.external_id == "CTI-0001"
    assert ticket.intake_agent == "工号 8801 李娜"
    assert ticket.category == cast.category
    assert data["replayed"] is False
    assert data["status_url"].startswith(settings.PUBLIC_BASE_URL.rstrip("/") + "/")
    token = data["status_url"].rstrip("/").rsplit("/", 1)[-1]
    assert status_link_lookup(token).ticket == ticket
    audit = AuditEntry.objects.get(ticket=ticket, transition="report")
    assert audit.actor_role == "channel"


def test_same_external_id_twice_returns_the_first_order(cast):
    client = client_for(channel_account(Channel.HOTLINE))
    first = client.post("/api/v1/intake/", body(cast), format="json")
    again = client.post("/api/v1/intake/", body(cast, description="重复推送"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["replayed"] is True
    assert again.json()["status_url"] == first.json()["status_url"]
    assert Ticket.objects.count() == 1


def test_same_external_id_from_another_channel_is_another_order(cast):
    hotline = client_for(channel_account(Channel.HOTLINE))
    app = client_for(channel_account(Channel.APP))
    a = hotline.post("/api/v1/intake/", body(cast), format="json")
    b = app.post("/api/v1/intake/", body(cast), format="json")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["number"] != b.json()["number"]
    assert Ticket.objects.get(number=b.json()["number"]).channel == Channel.APP


def test_category_by_numeric_id_is_accepted_too(cast):
    client = client_for(channel_account(Channel.ONLINE))
    r = client.post("/api/v1/intake/", body(cast, category=str(cast.category.pk)), format="json")
    assert r.status_code == 201, r.content


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"category": "no_such_code"}, "category"),
        ({"channel": "regulator"}, "channel"),
        ({"customer_phone": "12345"}, "customer_phone"),
        ({"customer_phone": "+1 415 555 0100"}, "customer_phone"),
        ({"external_id": ""}, "external_id"),
    ],
)
def test_bad_intake_is_422_in_the_error_shape(cast, override, field):
    client = client_for(channel_account(Channel.HOTLINE))
    r = client.post("/api/v1/intake/", body(cast, **override), format="json")
    assert r.status_code == 422, r.content
    error = r.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert Ticket.objects.count() == 0


def test_own_channel_named_explicitly_is_fine(cast):
    client = client_for(channel_account(Channel.SOCIAL))
    r = client.post("/api/v1/intake/", body(cast, channel="social"), format="json")
    assert r.status_code == 201


def test_fixed_line_is_accepted(cast):
    client = client_for(channel_account(Channel.HOTLINE))
    r = client.post("/api/v1/intake/", body(cast, customer_phone="0571 8765 4321"), format="json")
    assert r.status_code == 201
    assert Ticket.objects.get().customer_phone == "0571-87654321"


def test_only_channel_accounts_may_use_intake(cast, api):
    r = api("dispatcher").post("/api/v1/intake/", body(cast), format="json")
    assert r.status_code == 403
    # The channel role without a ChannelAccount has no channel to file for.
    bare = user_with("channel", username="sys_bare", is_staff=False)
    r = client_for(bare).post("/api/v1/intake/", body(cast), format="json")
    assert r.status_code == 403
    assert Ticket.objects.count() == 0


def test_channel_account_cannot_report_through_the_ticket_endpoint(cast):
    client = client_for(channel_account(Channel.HOTLINE))
    r = client.post(
        "/api/v1/tickets/",
        {"category": cast.category.pk, "customer_phone": "13811112222", "description": "x"},
        format="json",
    )
    assert r.status_code == 403


def test_channel_account_reads_what_it_filed_and_nothing_else(cast):
    account = channel_account(Channel.HOTLINE)
    client = client_for(account)
    mine = client.post("/api/v1/intake/", body(cast), format="json").json()["number"]
    other = report(cast).number
    listed = {t["number"] for t in client.get("/api/v1/tickets/").json()["results"]}
    assert listed == {mine}
    assert client.get(f"/api/v1/tickets/{mine}/").status_code == 200
    assert client.get(f"/api/v1/tickets/{other}/").status_code == 404


def test_intake_with_photos_as_multipart(cast):
    client = client_for(channel_account(Channel.APP))
    data = body(cast)
    data["attachments"] = [SimpleUploadedFile("a.jpg", jpeg_bytes(), "image/jpeg")]
    r = client.post("/api/v1/intake/", data, format="multipart")
    assert r.status_code == 201, r.content
    assert Ticket.objects.get().attachments.count() == 1


def test_ticket_create_accepts_the_category_code(cast, api):
    r = api("frontline").post(
        "/api/v1/tickets/",
        {"category": "broadband_fault", "customer_phone": "13811112222", "description": "掉线"},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert Ticket.objects.get().category == cast.category
    r = api("frontline").post(
        "/api/v1/tickets/",
        {"category": "nope", "customer_phone": "13811112222", "description": "掉线"},
        format="json",
    )
    assert r.status_code == 400
    assert "category" in r.json()["error"]["fields"]


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_duplicate_intake_makes_one_order(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cast = Cast()
    account = channel_account(Channel.HOTLINE)
    clients = [client_for(account) for _ in range(5)]
    results = _run_concurrently(
        [lambda c=c: c.post("/api/v1/intake/", body(cast), format="json") for c in clients]
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 200, 200, 201], [r.content for r in results]
    assert len({r.json()["number"] for r in results}) == 1
    assert Ticket.objects.count() == 1
