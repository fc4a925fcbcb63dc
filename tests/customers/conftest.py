import pytest
from django.core.cache import cache

from customers import services
from tests.factories import ticket_in_state
from tests.web.test_browser import browser  # noqa: F401  (the Chromium fixture)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The per-address request counter lives in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def status_path(ticket) -> str:
    return services.status_link_for(ticket)


@pytest.fixture
def replied(cast):
    return ticket_in_state(cast, "replied")
