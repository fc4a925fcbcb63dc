"""The regulator track through the API: mark 申诉, the refused close, the sign-off."""

from datetime import timedelta

from django.utils import timezone

from tests.factories import ticket_in_state
from workorders.models import State

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


def test_api_mark_and_sign_off(cast, api):
    t = ticket_in_state(cast, State.REPLIED, now=T0)
    url = f"/api/v1/tickets/{t.number}/regulator/"
    assert api("frontline").post(url, {"reason": "申诉"}, format="json").status_code in (403, 404)
    r = api("dispatcher").post(url, {"reason": "客户已申诉"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["is_regulator"] is True
    r = api("dispatcher").post(
        f"/api/v1/tickets/{t.number}/transitions/close/",
        {"outcome": "success", "resolved": True, "satisfaction": "satisfied"},
        format="json",
    )
    assert r.status_code == 409
    r = api("supervisor").post(f"{url}signoff/", {"note": "同意"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["regulator_signed_off_at"]
