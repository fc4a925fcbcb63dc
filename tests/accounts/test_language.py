"""The language switch also saves the user's preference, which notifications follow."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def switch(user, language: str):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.post(reverse("set_language"), {"language": language, "next": "/orders/"})


def test_switching_saves_the_language_on_the_user(cast):
    assert cast.handler.language == "zh-hans"
    response = switch(cast.handler, "en")
    assert response.status_code == 302 and response.url == "/orders/"
    assert response.cookies["django_language"].value == "en"
    cast.handler.refresh_from_db()
    assert cast.handler.language == "en"
    switch(cast.handler, "zh-hans")
    cast.handler.refresh_from_db()
    assert cast.handler.language == "zh-hans"


def test_an_unknown_language_changes_nothing(cast):
    response = switch(cast.handler, "xx")
    assert response.status_code == 302 and "django_language" not in response.cookies
    cast.handler.refresh_from_db()
    assert cast.handler.language == "zh-hans"


def test_anonymous_visitors_only_get_the_cookie(cast):
    response = switch(None, "en")
    assert response.status_code == 302 and response.cookies["django_language"].value == "en"
