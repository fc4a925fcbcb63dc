"""API tokens live API_TOKEN_TTL_HOURS from their login, and die with a password change or a
deactivation; nothing else a user's row goes through (language, last login, a hash upgrade)
touches them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_set_language
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.API_TOKEN_TTL_HOURS = 24
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(username: str, password: str = PASSWORD) -> dict:
    r = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert r.status_code == 200, r.content
    return r.json()


def me(token: str, **headers):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}", **headers)
    return client.get("/api/v1/me/")


def test_the_login_says_when_the_token_expires(cast):
    before = timezone.now()
    body = log_in("t_disp")

    expires = parse_datetime(body["expires"])
    assert before + timedelta(hours=24) <= expires <= timezone.now() + timedelta(hours=24)


def test_a_token_works_until_its_lifetime_ends_then_answers_401_and_is_deleted(cast):
    token = log_in("t_disp")["token"]
    issued = Token.objects.get(key=token).created

    with time_machine.travel(issued + timedelta(hours=23, minutes=59)):
        assert me(token).status_code == 200
    with time_machine.travel(issued + timedelta(hours=24, seconds=1)):
        r = me(token)
        en = me(token, HTTP_ACCEPT_LANGUAGE="en")

    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Token"
    assert r.json()["error"]["code"] == "token_expired"
    assert "令牌已过期" in r.json()["error"]["message"]
    assert not Token.objects.filter(key=token).exists()
    # Once deleted, the old key is just unknown.
    assert en.json()["error"]["code"] == "authentication_failed"


def test_logging_in_again_after_expiry_gives_a_new_token(cast):
    first = log_in("t_disp")["token"]
    issued = Token.objects.get(key=first).created
    assert log_in("t_disp")["token"] == first  # still valid: the same token

    with time_machine.travel(issued + timedelta(hours=25)):
        second = log_in("t_disp")
        assert second["token"] != first
        assert me(second["token"]).status_code == 200
        assert parse_datetime(second["expires"]) > timezone.now() + timedelta(hours=23)


def test_a_lifetime_of_zero_means_tokens_do_not_expire(cast, settings):
    settings.API_TOKEN_TTL_HOURS = 0
    body = log_in("t_disp")
    assert body["expires"] is None

    with time_machine.travel(timezone.now() + timedelta(days=400)):
        assert me(body["token"]).status_code == 200


def test_a_password_change_revokes_the_users_tokens_only(cast):
    token = log_in("t_disp")["token"]
    other = log_in("t_lead")["token"]

    cast.dispatcher.set_password("a-new-Password-9")
    cast.dispatcher.save()

    assert me(token).status_code == 401
    assert not Token.objects.filter(user=cast.dispatcher).exists()
    assert me(other).status_code == 200


def test_a_password_changed_in_the_admin_revokes_tokens(cast):
    token = log_in("t_disp")["token"]
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", PASSWORD))

    r = admin.post(
        f"/admin/accounts/user/{cast.dispatcher.pk}/password/",
        {
            "password1": "a-new-Password-9",
            "password2": "a-new-Password-9",
            "usable_password": "true",
        },
    )

    assert r.status_code == 302
    assert me(token).status_code == 401


def test_deactivation_revokes_tokens_for_good(cast):
    token = log_in("t_disp")["token"]

    cast.dispatcher.is_active = False
    cast.dispatcher.save()
    assert not Token.objects.filter(user=cast.dispatcher).exists()

    cast.dispatcher.is_active = True
    cast.dispatcher.save()
    assert me(token).status_code == 401  # reactivation does not bring the old token back


def test_other_saves_of_the_user_keep_the_tokens(cast):
    token = log_in("t_disp")["token"]

    user_set_language(user=cast.dispatcher, language="en")
    cast.dispatcher.first_name = "Dana"
    cast.dispatcher.save()
    web = Client()
    web.post("/login/", {"username": "t_disp", "password": PASSWORD})  # sets last_login

    assert "_auth_user_id" in web.session
    assert me(token).status_code == 200


def test_a_hash_upgrade_at_login_is_not_a_password_change(cast, settings):
    token = log_in("t_disp")["token"]
    old_hash = User.objects.get(pk=cast.dispatcher.pk).password
    # A new preferred hasher: the next login re-hashes the same password.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    assert log_in("t_disp")["token"] == token

    assert User.objects.get(pk=cast.dispatcher.pk).password != old_hash
    assert me(token).status_code == 200


def test_logging_out_of_the_api_deletes_the_token(cast):
    token = log_in("t_disp")["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert me(token).status_code == 401
