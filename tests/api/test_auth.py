from rest_framework.test import APIClient

from tests.factories import PASSWORD


def test_token_login_use_and_revoke(cast):
    client = APIClient()
    r = client.post(
        "/api/v1/auth/token/", {"username": "t_disp", "password": PASSWORD}, format="json"
    )
    assert r.status_code == 200
    token = r.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/me/").json()
    assert me["username"] == "t_disp" and me["roles"] == ["dispatcher"]
    assert me["department"]["code"] == "business"
    assert client.delete("/api/v1/auth/token/").status_code == 204
    r = client.get("/api/v1/me/")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "authentication_failed"


def test_wrong_password_is_400_in_the_error_shape(cast):
    r = APIClient().post(
        "/api/v1/auth/token/", {"username": "t_disp", "password": "nope"}, format="json"
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_credentials"


def test_failed_logins_are_throttled_per_username_and_address(cast, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login": "3/minute"}
    client = APIClient()
    bad = {"username": "t_disp", "password": "nope"}
    codes = [client.post("/api/v1/auth/token/", bad, format="json").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    r = client.post(
        "/api/v1/auth/token/", {"username": "t_disp", "password": PASSWORD}, format="json"
    )
    assert r.status_code == 429  # even the right password waits out the block
    assert r.json()["error"]["code"] == "throttled" and "Retry-After" in r.headers
    # Another username from the same address is not blocked by that counter.
    r = client.post(
        "/api/v1/auth/token/", {"username": "t_lead", "password": PASSWORD}, format="json"
    )
    assert r.status_code == 200


def test_successful_logins_do_not_count(cast, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login": "2/minute"}
    good = {"username": "t_disp", "password": PASSWORD}
    for _ in range(5):
        assert APIClient().post("/api/v1/auth/token/", good, format="json").status_code == 200


def test_users_are_throttled_per_configured_rate(cast, api, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "user": "3/minute"}
    client = api("auditor")
    codes = [client.get("/api/v1/categories/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_anonymous_addresses_are_throttled(cast, settings):
    # Anonymous requests reach only the login endpoint (everything else is 401 first).
    settings.API_THROTTLE_RATES = {
        **settings.API_THROTTLE_RATES,
        "anon": "2/minute",
        "login": "100/minute",
        "login_ip": "100/minute",
    }
    client = APIClient()
    good = {"username": "t_disp", "password": PASSWORD}
    codes = [client.post("/api/v1/auth/token/", good, format="json").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
