import pytest
from django.test import Client
from django.urls import reverse


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast creates eight users; PBKDF2 made each test's setup take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client_for(db):
    """A logged-in Django test client for a user, in Chinese (the default language)."""

    def make(user) -> Client:
        c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        c.force_login(user)
        return c

    return make


CHANGELIST = "admin:workorders_ticket_changelist"


def changelist_url() -> str:
    return reverse(CHANGELIST)


def change_url(ticket) -> str:
    return reverse("admin:workorders_ticket_change", args=[ticket.pk])


def do_url(ticket, name: str) -> str:
    return reverse("admin:workorders_ticket_transition", args=[ticket.pk, name])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
