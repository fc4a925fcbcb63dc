"""Static files as production serves them: collected with hashed names, compressed, and sent
by the app itself (WhiteNoise) with long cache headers, so a repeat visit fetches nothing."""

import re

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory


@pytest.fixture
def collected(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command(
        "collectstatic",
        interactive=False,
        verbosity=0,
        ignore_patterns=["admin", "rest_framework", "drf_spectacular*", "django_filters"],
    )
    return settings.STATIC_ROOT


def test_pages_link_hashed_static_files_served_with_long_cache_headers(collected, db):
    from whitenoise.middleware import WhiteNoiseMiddleware

    html = Client().get("/login/").content.decode()
    css = re.search(r'href="(/static/web/app\.[0-9a-f]{12}\.css)"', html)
    assert css, "the page should link the hashed, cacheable name"

    middleware = WhiteNoiseMiddleware(lambda request: None)
    request = RequestFactory().get(css.group(1), HTTP_ACCEPT_ENCODING="gzip")
    response = middleware(request)

    assert response.status_code == 200
    assert "max-age=31536000" in response["Cache-Control"]
    assert "immutable" in response["Cache-Control"]
    assert response["Content-Encoding"] in ("gzip", "br")


def test_static_is_small(collected):
    """The whole of the pages' own CSS and script stays a few kilobytes (32 KB uncompressed
    since the phone keeps reports offline: service worker outbox, live lists, countdowns)."""
    total = sum(
        p.stat().st_size
        for p in (collected / "web").iterdir()
        if re.fullmatch(r"\w+\.(css|js)", p.name)
    )
    assert total < 32 * 1024
