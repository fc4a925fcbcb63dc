import pytest

from tests.sinks import Receiver


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.close()
