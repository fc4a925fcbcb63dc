"""Malformed input answers a clear 4xx in the error shape and the request's language; never 500."""

import pytest

from tests.factories import ticket_in_state


def assert_error(r, status, code=None):
    assert r.status_code == status, r.content
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_bad_json_is_400(cast, api):
    r = api("dispatcher").post(
        "/api/v1/tickets/", b'{"category": 1,', content_type="application/json"
    )
    assert_error(r, 400, "parse_error")


def test_non_utf8_body_is_400(cast, api):
    r = api("dispatcher").post(
        "/api/v1/tickets/", b'{"description": "\xff\xfe"}', content_type="application/json"
    )
    assert_error(r, 400, "parse_error")


def test_wrong_types_are_field_errors(cast, api):
    r = api("dispatcher").post(
        "/api/v1/tickets/",
        {"category": "abc", "customer_phone": ["x"], "description": {"a": 1}, "star_level": "9"},
        format="json",
    )
    err = assert_error(r, 400, "invalid")
    assert {"category", "customer_phone", "description", "star_level"} <= set(err["fields"])


def test_service_validation_is_a_field_error(cast, api):
    r = api("dispatcher").post(
        "/api/v1/tickets/",
        {"category": cast.category.pk, "customer_phone": "12345", "description": "x"},
        format="json",
    )
    err = assert_error(r, 400, "invalid")
    assert "customer_phone" in err["fields"]


@pytest.mark.parametrize("value", [10**30, -1, 2**63, "9" * 40])
def test_huge_or_negative_ids_are_400(cast, api, value):
    r = api("dispatcher").post(
        "/api/v1/tickets/",
        {"category": value, "customer_phone": "13800138000", "description": "x"},
        format="json",
    )
    err = assert_error(r, 400, "invalid")
    assert "category" in err["fields"]


@pytest.mark.parametrize(
    "query",
    [
        "category=99999999999999999999999",
        "department=-5",
        "handler=abc",
        "reported_after=99999-01-01",
        "state=nonsense",
        "sla_status=late",
        "page_size=100000000000000000000",
        "page_size=0",
        "ordering=name",
        "cursor=!!!",
        "cursor=eyJ4IjoxfQ",
    ],
)
def test_bad_list_parameters_are_400(cast, api, query):
    r = api("dispatcher").get(f"/api/v1/tickets/?{query}")
    assert_error(r, 400)


def test_huge_path_ids_are_404(cast, api):
    t = ticket_in_state(cast, "accepted")
    r = api("supervisor").post(
        f"/api/v1/tickets/{t.number}/extensions/{10**40}/approve/", {}, format="json"
    )
    assert_error(r, 404, "not_found")
    r = api("supervisor").get(f"/api/v1/tickets/{'G' * 500}/")
    assert_error(r, 404, "not_found")


def test_unknown_transition_is_404(cast, api):
    t = ticket_in_state(cast, "reported")
    r = api("dispatcher").post(f"/api/v1/tickets/{t.number}/transitions/teleport/", {})
    assert_error(r, 404, "not_found")


def test_wrong_state_is_409_and_no_right_is_403(cast, api):
    t = ticket_in_state(cast, "reported")
    r = api("dispatcher").post(
        f"/api/v1/tickets/{t.number}/transitions/reply/",
        {"result": "x", "cause": "network", "resolved": True},
        format="json",
    )
    assert_error(r, 403, "forbidden")  # dispatchers never reply
    r = api("dispatcher").post(
        f"/api/v1/tickets/{t.number}/transitions/reject_reply/", {"reason": "x"}, format="json"
    )
    assert_error(r, 409, "invalid_state")


def test_method_not_allowed_is_405(cast, api):
    r = api("dispatcher").delete("/api/v1/tickets/")
    assert_error(r, 405, "method_not_allowed")


def test_messages_follow_accept_language(cast, api):
    t = ticket_in_state(cast, "reported")
    url = f"/api/v1/tickets/{t.number}/transitions/reject_reply/"
    zh = assert_error(api("dispatcher").post(url, {"reason": "x"}, format="json"), 409)
    en = assert_error(api("dispatcher", "en").post(url, {"reason": "x"}, format="json"), 409)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["message"])
    assert en["message"].isascii() and en["message"] != zh["message"]
    en = assert_error(
        api("dispatcher", "en").post("/api/v1/tickets/", b"{", content_type="application/json"),
        400,
    )
    assert en["message"].isascii()


def test_attachment_type_and_size_are_checked(cast, api, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import jpeg_bytes

    t = ticket_in_state(cast, "reported")
    client = api("frontline")
    url = f"/api/v1/tickets/{t.number}/attachments/"
    r = client.post(url, {"files": [SimpleUploadedFile("a.txt", b"hello", "text/plain")]})
    err = assert_error(r, 400, "invalid")
    assert "attachments" in err["fields"]
    r = client.post(url, {"files": [SimpleUploadedFile("p.jpg", jpeg_bytes(), "image/jpeg")]})
    assert r.status_code == 201, r.content
    assert r.json()[0]["content_type"] == "image/jpeg"
    settings.ATTACHMENT_MAX_BYTES = 10
    r = client.post(url, {"files": [SimpleUploadedFile("p.jpg", jpeg_bytes(), "image/jpeg")]})
    assert_error(r, 400, "invalid")
    r = client.post(url, {"files": "notafile"})
    assert_error(r, 400, "invalid")
    r = client.post(url, {"x": 1}, format="json")
    assert_error(r, 415, "unsupported_media_type")
