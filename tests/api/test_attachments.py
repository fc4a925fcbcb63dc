"""Photos go up as multipart and come back down through the API, to those who may see the
order only (the same visibility rule as every other lookup: 404 outside it)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import jpeg_bytes, ticket_in_state
from workorders.models import Attachment

pytestmark = pytest.mark.django_db


def test_uploaded_photo_downloads_as_stored_within_scope(cast, api):
    t = ticket_in_state(cast, "dispatched")
    data = jpeg_bytes()
    up = api("frontline").post(
        f"/api/v1/tickets/{t.number}/attachments/",
        {"files": [SimpleUploadedFile("门口.jpg", data, "image/jpeg")]},
    )
    assert up.status_code == 201, up.content
    (photo,) = up.json()
    # Stored re-encoded without metadata (tests/faults/test_photos.py); served as stored.
    with Attachment.objects.get(pk=photo["id"]).file.open("rb") as f:
        data = f.read()
    assert photo["url"] == f"/api/v1/tickets/{t.number}/attachments/{photo['id']}/content/"

    for role in ("frontline", "lead", "auditor"):
        r = api(role).get(photo["url"])
        assert r.status_code == 200, role
        assert r["Content-Type"] == "image/jpeg"
        assert r["Cache-Control"] == "private, max-age=86400"
        assert b"".join(r.streaming_content) == data

    listed = api("lead").get(f"/api/v1/tickets/{t.number}/attachments/").json()
    assert [p["url"] for p in listed] == [photo["url"]]


def test_outside_scope_or_unknown_is_a_json_404(cast, api):
    t = ticket_in_state(cast, "dispatched")
    up = api("frontline").post(
        f"/api/v1/tickets/{t.number}/attachments/",
        {"files": [SimpleUploadedFile("p.jpg", jpeg_bytes(), "image/jpeg")]},
    )
    url = up.json()[0]["url"]
    from tests.api.conftest import client_for

    outsider = client_for(cast.other_lead)  # business line: cannot see a network order
    r = outsider.get(url)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    other = ticket_in_state(cast, "dispatched", phone="13900001111")
    # The photo's id under another order (which the user may see) is not found either.
    r = api("lead").get(url.replace(t.number, other.number))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for bad in ("0", "x", "99999999999999999999"):
        r = api("lead").get(f"/api/v1/tickets/{t.number}/attachments/{bad}/content/")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
