"""Nothing doubled: two people decide the same extension or suspension request at the same
moment (the supervisor and the lead, each from their own screen). Exactly one decision wins,
the other is told; the due time moves once; the audit trail and the counters agree.

Real threads on PostgreSQL, released together by a barrier, twenty rounds each: SQLite
serialises writers, so the race cannot happen there."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sla.models import Clock
from tests.api.conftest import client_for
from tests.conftest import requires_postgres
from tests.factories import Cast, ticket_in_state
from tests.race import run_at_once
from workorders import services
from workorders.errors import DomainError
from workorders.models import (
    AuditEntry,
    ExtensionRequest,
    RequestStatus,
    State,
    SuspensionRequest,
    Ticket,
)

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROUNDS = 20
HOURS = 10


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _promise(ticket) -> Clock:
    return Clock.objects.get(pk=Ticket.objects.get(pk=ticket.pk).promise_clock_id)


def _told(errors) -> None:
    """The loser hears that the request was already decided (or that the order moved on)."""
    assert len(errors) == 1, errors
    assert isinstance(errors[0], DomainError), repr(errors[0])
    assert errors[0].http_status == 409, repr(errors[0])


# --------------------------------------------------------------------------- extensions


def _pending_extension(cast: Cast):
    """An accepted order with a pending 10 h extension request of its handler, and its
    promise due time before any decision."""
    ticket = ticket_in_state(cast, State.ACCEPTED)
    req = services.ticket_request_extension(
        ticket=ticket, by=cast.handler, hours=HOURS, reason="等待备件到货"
    )
    return ticket, req.pk, _promise(ticket).due_at


def _assert_extended_once(ticket, due_before) -> None:
    fresh = Ticket.objects.get(pk=ticket.pk)
    clock = _promise(ticket)
    assert clock.due_at == due_before + timedelta(hours=HOURS)
    assert fresh.promise_due_at == clock.due_at
    assert fresh.extension_count == 1
    assert AuditEntry.objects.filter(ticket=ticket, transition="extend").count() == 1


def _assert_not_extended(ticket, due_before) -> None:
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert _promise(ticket).due_at == due_before
    assert fresh.promise_due_at == due_before
    assert fresh.extension_count == 0
    assert not AuditEntry.objects.filter(ticket=ticket, transition="extend").exists()


def _decide_extension_at_once(cast: Cast, request_id: int, approve_b: bool):
    """The supervisor approves while the lead approves (or refuses), each with their own
    copy of the request as their screen loaded it."""
    copy_a = ExtensionRequest.objects.get(pk=request_id)
    copy_b = ExtensionRequest.objects.get(pk=request_id)
    return run_at_once(
        [
            lambda: (
                "approve",
                services.ticket_decide_extension(request=copy_a, by=cast.supervisor, approve=True),
            ),
            lambda: (
                "approve" if approve_b else "refuse",
                services.ticket_decide_extension(
                    request=copy_b,
                    by=cast.lead,
                    approve=approve_b,
                    note="" if approve_b else "先排查",
                ),
            ),
        ]
    )


def test_extension_approved_by_two_at_once_moves_the_due_time_once():
    cast = Cast()
    for _round in range(ROUNDS):
        ticket, request_id, due = _pending_extension(cast)
        results, errors = _decide_extension_at_once(cast, request_id, approve_b=True)
        assert len(results) == 1, errors
        _told(errors)
        req = ExtensionRequest.objects.get(pk=request_id)
        assert req.status == RequestStatus.APPROVED
        assert req.decided_by_id == results[0][1].decided_by_id
        _assert_extended_once(ticket, due)


def test_extension_approved_and_refused_at_once_ends_as_one_of_them():
    cast = Cast()
    for _round in range(ROUNDS):
        ticket, request_id, due = _pending_extension(cast)
        results, errors = _decide_extension_at_once(cast, request_id, approve_b=False)
        assert len(results) == 1, errors
        _told(errors)
        winner = results[0][0]
        req = ExtensionRequest.objects.get(pk=request_id)
        if winner == "approve":
            assert req.status == RequestStatus.APPROVED
            _assert_extended_once(ticket, due)
        else:
            # Refused means refused: the clock is where it was.
            assert req.status == RequestStatus.REFUSED
            _assert_not_extended(ticket, due)


def _api_approvals_at_once(cast: Cast, ticket, request_id: int):
    url = f"/api/v1/tickets/{ticket.number}/extensions/{request_id}/approve/"
    supervisor, lead = client_for(cast.supervisor), client_for(cast.lead)
    return run_at_once(
        [
            lambda: supervisor.post(url, {}, format="json"),
            lambda: lead.post(url, {}, format="json"),
        ]
    )


def test_two_api_approvals_at_once_one_200_one_409():
    cast = Cast()
    for _round in range(5):
        ticket, request_id, due = _pending_extension(cast)
        results, errors = _api_approvals_at_once(cast, ticket, request_id)
        assert errors == []
        assert sorted(r.status_code for r in results) == [200, 409], [r.content for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.json()["error"]["code"] == "invalid_state"
        _assert_extended_once(ticket, due)


# --------------------------------------------------------------------------- suspensions


def _pending_suspension(cast: Cast):
    ticket = ticket_in_state(cast, State.ACCEPTED)
    req = services.ticket_request_suspension(
        ticket=ticket,
        by=cast.handler,
        reason="appointment",
        until=ticket.reported_at + timedelta(days=2),
    )
    return ticket, req.pk


def _decide_suspension_at_once(cast: Cast, request_id: int, approve_b: bool):
    copy_a = SuspensionRequest.objects.get(pk=request_id)
    copy_b = SuspensionRequest.objects.get(pk=request_id)

    def b():
        if approve_b:
            return "approve", services.ticket_approve_suspension(request=copy_b, by=cast.lead)
        return "refuse", services.ticket_refuse_suspension(
            request=copy_b, by=cast.lead, note="客户可配合上门"
        )

    return run_at_once(
        [
            lambda: (
                "approve",
                services.ticket_approve_suspension(request=copy_a, by=cast.supervisor),
            ),
            b,
        ]
    )


def _assert_suspended_once(ticket) -> None:
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.state == State.SUSPENDED
    assert fresh.suspension_count == 1
    assert AuditEntry.objects.filter(ticket=ticket, transition="suspend").count() == 1
    assert _promise(ticket).paused_at is not None
    assert SuspensionRequest.objects.filter(ticket=ticket).count() == 1


def test_suspension_approved_by_two_at_once_suspends_once():
    cast = Cast()
    for _round in range(ROUNDS):
        ticket, request_id = _pending_suspension(cast)
        results, errors = _decide_suspension_at_once(cast, request_id, approve_b=True)
        assert len(results) == 1, errors
        _told(errors)
        assert SuspensionRequest.objects.get(pk=request_id).status == RequestStatus.APPROVED
        _assert_suspended_once(ticket)


def test_suspension_approved_and_refused_at_once_ends_as_one_of_them():
    cast = Cast()
    for _round in range(ROUNDS):
        ticket, request_id = _pending_suspension(cast)
        results, errors = _decide_suspension_at_once(cast, request_id, approve_b=False)
        assert len(results) == 1, errors
        _told(errors)
        winner = results[0][0]
        req = SuspensionRequest.objects.get(pk=request_id)
        if winner == "approve":
            assert req.status == RequestStatus.APPROVED
            _assert_suspended_once(ticket)
        else:
            # Never "suspended" with the request refused.
            assert req.status == RequestStatus.REFUSED
            fresh = Ticket.objects.get(pk=ticket.pk)
            assert fresh.state == State.ACCEPTED
            assert fresh.suspension_count == 0
            assert not AuditEntry.objects.filter(ticket=ticket, transition="suspend").exists()
            assert _promise(ticket).paused_at is None
