"""The API's reply takes the public reply; the detail shows it and the visit channel."""

import pytest

from tests.api.conftest import client_for
from tests.factories import ticket_in_state

pytestmark = pytest.mark.django_db


def test_reply_with_public_words_and_detail_shows_them_and_the_channel(cast):
    t = ticket_in_state(cast, "accepted")
    api = client_for(cast.handler)
    resp = api.post(
        f"/api/v1/tickets/{t.number}/transitions/reply/",
        {"result": "内部结果", "cause": "network", "resolved": True, "public_reply": "已修复"},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["public_reply"] == "已修复"
    assert resp.json()["visit_channel"] == ""
    api = client_for(cast.dispatcher)
    resp = api.post(
        f"/api/v1/tickets/{t.number}/transitions/close/",
        {"outcome": "success", "resolved": True, "satisfaction": "satisfied"},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["visit_channel"] == "phone"
