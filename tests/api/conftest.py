import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ["frontline", "dispatcher", "lead", "handler", "supervisor", "auditor"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast has eight users; the default hasher makes each test seconds slower.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle history lives in the (per-process) cache; each test starts clean.
    cache.clear()
    yield
    cache.clear()


def client_for(user, *, lang: str | None = None) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    if lang:
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = lang
    return client


@pytest.fixture
def api(cast):
    """api("dispatcher") → an APIClient authenticated as that member of the cast."""

    def make(role: str, lang: str | None = None) -> APIClient:
        return client_for(cast.by_role(role), lang=lang)

    return make
