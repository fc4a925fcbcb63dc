"""Login lockout (django-axes): after LOGIN_FAILURE_LIMIT failures for one username from one
address, that pair is refused even with the right password, on the phone login, the admin login
and the API's token login alike; the lockout says so in the user's language with the username
kept, is recorded, ends after the cool-off, and an administrator can lift it."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.lockout import client_ip
from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

WEB_LOGIN = reverse("web:login")
ADMIN_LOGIN = reverse("admin:login")
LOCKED_ZH = "失败次数过多"
LOCKED_EN = "Too many failed logins"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def post(client: Client, url: str, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, url: str, username: str, times: int, ip: str = "10.0.0.1") -> list:
    return [post(client, url, username, f"wrong-{i}", ip).status_code for i in range(times)]


def test_web_login_refuses_the_right_password_after_five_failures(cast):
    client = Client()
    first = post(client, WEB_LOGIN, "t_front", "wrong-1")
    wrong_password = re.search(
        r'<ul class="errorlist[^"]*"><li>([^<]+)</li>', first.content.decode()
    )

    assert fail(client, WEB_LOGIN, "t_front", 3) == [200] * 3
    fifth = post(client, WEB_LOGIN, "t_front", "wrong-5")
    right = post(client, WEB_LOGIN, "t_front", PASSWORD)

    assert fifth.status_code == 429
    assert right.status_code == 429 and not logged_in(client)
    page = right.content.decode()
    assert LOCKED_ZH in page and "30 分钟" in page
    assert 'value="t_front"' in page  # the typed username stays in the form
    assert wrong_password[1] not in page  # not the misleading "wrong password" message


def test_thirty_wrong_guesses_never_let_the_right_password_in(cast):
    client = Client()
    fail(client, WEB_LOGIN, "t_front", 30)

    assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 429
    assert not logged_in(client)
    assert AccessAttempt.objects.get(username="t_front").failures_since_start >= 5


def test_lockout_message_in_english(cast):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    fail(client, WEB_LOGIN, "t_front", 5)

    page = post(client, WEB_LOGIN, "t_front", PASSWORD).content.decode()

    assert LOCKED_EN in page and "30 minutes" in page and 'value="t_front"' in page


def test_lockout_is_per_username_and_address(cast):
    client = Client()
    fail(client, WEB_LOGIN, "t_front", 5, ip="10.0.0.1")

    # The same person from another network, and another user from the same one, log in.
    other_address = Client()
    assert post(other_address, WEB_LOGIN, "t_front", PASSWORD, ip="10.0.0.2").status_code == 302
    assert logged_in(other_address)
    other_user = Client()
    assert post(other_user, WEB_LOGIN, "t_front2", PASSWORD, ip="10.0.0.1").status_code == 302
    assert logged_in(other_user)


def test_admin_login_locks_out_too(cast):
    client = Client()
    assert fail(client, ADMIN_LOGIN, "t_lead", 4) == [200] * 4

    assert post(client, ADMIN_LOGIN, "t_lead", "wrong-5").status_code == 429
    right = post(client, ADMIN_LOGIN, "t_lead", PASSWORD)

    assert right.status_code == 429 and not logged_in(client)
    page = right.content.decode()
    assert LOCKED_ZH in page and 'value="t_lead"' in page and 'id="login-form"' in page


def test_lockout_ends_after_the_cooloff(cast):
    client = Client()
    fail(client, WEB_LOGIN, "t_front", 5)
    assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 429

    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 302
    assert logged_in(client)


def test_without_a_cooloff_only_an_administrator_unlocks(cast, settings):
    settings.AXES_COOLOFF_TIME = None
    client = Client()
    fail(client, WEB_LOGIN, "t_front", 5)
    page = post(client, WEB_LOGIN, "t_front", PASSWORD).content.decode()
    assert "联系管理员解锁" in page and "分钟" not in page

    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 429

    # The administrator deletes the attempt in the admin ("Access attempts").
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))
    attempt = AccessAttempt.objects.get(username="t_front")
    changelist = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert changelist.status_code == 200 and "t_front" in changelist.content.decode()
    deleted = admin.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302

    assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 302
    assert logged_in(client)


def test_failures_and_the_lockout_are_recorded_and_logged(cast, caplog):
    with caplog.at_level(logging.WARNING, logger="axes"):
        fail(Client(), WEB_LOGIN, "t_front", 5)

    assert AccessFailureLog.objects.filter(username="t_front").count() == 5
    assert AccessFailureLog.objects.filter(username="t_front", locked_out=True).count() == 1
    attempt = AccessAttempt.objects.get(username="t_front")
    assert attempt.ip_address == "10.0.0.1" and attempt.failures_since_start == 5
    assert "wrong-" not in attempt.post_data  # the passwords are not kept
    assert any("Locking out" in r.getMessage() for r in caplog.records)


def test_a_successful_login_forgets_earlier_failures(cast):
    client = Client()
    fail(client, WEB_LOGIN, "t_front", 4)
    assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 302
    client.logout()

    assert fail(client, WEB_LOGIN, "t_front", 4) == [200] * 4
    assert post(client, WEB_LOGIN, "t_front", PASSWORD).status_code == 302


def test_token_login_failures_count_towards_the_same_lockout(cast, settings):
    settings.API_THROTTLE_RATES = {
        **settings.API_THROTTLE_RATES,
        "login": "100/minute",
        "login_ip": "100/minute",
    }
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    bad = {"username": "t_front", "password": "nope"}

    codes = [api.post("/api/v1/auth/token/", bad, format="json").status_code for _ in range(5)]
    right = api.post(
        "/api/v1/auth/token/", {"username": "t_front", "password": PASSWORD}, format="json"
    )

    assert codes == [400, 400, 400, 400, 429]
    assert right.status_code == 429
    body = right.json()["error"]
    assert body["code"] == "locked_out" and LOCKED_ZH in body["message"]
    assert right.headers["Retry-After"] == str(30 * 60)
    # The web login from the same address is locked as well, and vice versa the other way.
    assert post(Client(), WEB_LOGIN, "t_front", PASSWORD).status_code == 429


def test_a_successful_token_login_forgets_earlier_failures(cast):
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(4):
        api.post("/api/v1/auth/token/", {"username": "t_front", "password": "x"}, format="json")
    good = {"username": "t_front", "password": PASSWORD}
    assert api.post("/api/v1/auth/token/", good, format="json").status_code == 200

    assert not AccessAttempt.objects.filter(username="t_front").exists()


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(cast):
    client = Client()
    for i in range(5):
        client.post(
            WEB_LOGIN,
            {"username": "t_front", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        )

    right = client.post(
        WEB_LOGIN,
        {"username": "t_front", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )

    assert right.status_code == 429


def test_client_ip_trusts_only_the_configured_number_of_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.PROXY_COUNT = 0
    assert client_ip(request) == "10.9.9.9"
    settings.PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"
    settings.PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"
    settings.PROXY_COUNT = 5  # fewer hops than proxies: the leftmost there is
    assert client_ip(request) == "6.6.6.6"
