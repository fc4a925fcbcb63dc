"""`accounts.copies.ProcessCopy`, the one freshness rule behind every per-process copy (users'
rights, SLA reference data, risk rules, SMS templates): kept until a write, a writing
transaction reads a copy of its own, a rolled-back write is never kept, another process's
write is seen through the stamp."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction

from accounts import access
from accounts.copies import ProcessCopy
from accounts.models import User
from tests.factories import user_with


class Source:
    """A table stand-in: `load` reads `value` and counts the reads."""

    def __init__(self) -> None:
        self.value = "v1"
        self.reads = 0

    def load(self) -> dict:
        self.reads += 1
        return {"value": self.value}


@pytest.fixture
def source():
    return Source()


@pytest.fixture
def copy(source, request):
    made = ProcessCopy(f"test.{request.node.name}", source.load)
    yield made
    made.clear()


def test_a_copy_is_read_once_and_again_after_a_write_outside_a_transaction(source, copy):
    assert copy.get()["value"] == "v1"
    assert copy.get()["value"] == "v1"
    assert source.reads == 1
    source.value = "v2"
    copy.invalidate()
    assert copy.get()["value"] == "v2"
    assert source.reads == 2


@pytest.mark.django_db
def test_a_writing_transaction_reads_its_own_copy_loaded_after_each_write(source, copy):
    shared = copy.get()
    source.value = "uncommitted"
    copy.invalidate()
    mine = copy.get()
    assert mine["value"] == "uncommitted" and mine is not shared
    assert copy.get() is mine  # kept for the rest of the transaction, not read per call
    seen_elsewhere = []
    other = threading.Thread(target=lambda: seen_elsewhere.append(copy.get()))
    other.start()
    other.join()
    assert seen_elsewhere[0] is not mine  # another thread never gets the uncommitted copy
    source.value = "again"
    copy.invalidate()
    assert copy.get()["value"] == "again"  # a second write in the same transaction is seen


@pytest.mark.django_db
def test_a_rolled_back_write_is_not_kept(source, copy):
    assert copy.get()["value"] == "v1"

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        source.value = "rolled back"
        copy.invalidate()
        assert copy.get()["value"] == "rolled back"
        raise Undo
    source.value = "v1"  # the table as the rollback left it
    assert copy.get()["value"] == "v1"


def test_another_process_write_is_seen_through_the_stamp(source, copy, monkeypatch):
    from accounts import copies

    assert copy.get()["value"] == "v1"
    cache.set(copy.stamp_key, "a first stamp", None)
    monkeypatch.setattr(copies, "CHECK_SECONDS", 0.0)
    copy.get()  # notes the stamp it now sees
    source.value = "v2"
    assert copy.get()["value"] == "v1"  # nothing changed the stamp: the copy holds
    cache.set(copy.stamp_key, "written by another process", None)
    assert copy.get()["value"] == "v2"


def test_a_copy_is_read_again_after_its_max_age(source, copy, settings, monkeypatch):
    assert copy.get()["value"] == "v1"
    source.value = "v2"
    settings.REFERENCE_COPY_SECONDS = -1
    assert copy.get()["value"] == "v2"


@pytest.mark.django_db
def test_rights_added_in_a_rolled_back_transaction_are_not_kept():
    user = user_with("frontline")

    def roles() -> frozenset[str]:  # a fresh instance: `User.roles` is kept per instance
        return User.objects.get(pk=user.pk).roles

    assert "dispatcher" not in roles()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        user.groups.add(Group.objects.get(name="dispatcher"))
        assert "dispatcher" in roles()  # the writing transaction sees its own change
        raise Undo
    assert "dispatcher" not in roles()
    access.clear()
    assert "dispatcher" not in roles()


@pytest.mark.django_db
def test_a_copy_not_kept_while_writing_reads_on_every_call_until_the_transaction_ends(source):
    copy = ProcessCopy("test.not_kept", source.load, keep_while_writing=False)
    try:
        copy.get()
        copy.invalidate()  # inside the test's transaction: a write not yet committed
        reads = source.reads
        copy.get()
        copy.get()
        assert source.reads == reads + 2
    finally:
        copy.clear()
