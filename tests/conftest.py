import os
import shutil
from pathlib import Path

import pytest
from django.db import connection
from django.utils import translation

from tests.factories import Cast


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache (one per process, or the Redis of CACHE_URL): each
    test starts with none, whatever ran before it."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Start each test in the default language (zh-hans): a test client request under
    LocaleMiddleware leaves its language active in the thread for whatever runs next."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _process_copies():
    """Each test rolls its rows back; the per-process copies (users' rights, SLA rules and
    calendars, risk rules, SMS templates: `accounts.copies`) must not outlive them."""
    from accounts import copies

    copies.clear_all()
    yield
    copies.clear_all()


@pytest.fixture
def cast(db) -> Cast:
    return Cast()


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs PostgreSQL (set DATABASE_URL=postgres://...); SQLite serialises writers",
)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("WHISTLE_TEST_OUTPUT", "test-results"))
    path.mkdir(parents=True, exist_ok=True)
    return path
