import pytest
from django.test import Client

from tests.factories import jpeg_bytes


@pytest.fixture
def front(cast) -> Client:
    """A client logged in as the frontline worker of the cast."""
    client = Client()
    client.force_login(cast.frontline)
    return client


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def photo(name="photo.jpg", content=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content or jpeg_bytes(), content_type="image/jpeg")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast creates eight users; the production hasher would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
