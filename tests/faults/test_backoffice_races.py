"""No lost update in the back office: two people act on the same order through the admin at
the same moment. One wins; the other is told, in words, that the order changed under them;
the counters and the audit trail show one action.

Real threads on PostgreSQL, released together by a barrier."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from sla.models import Clock, ClockKind
from tests.backoffice.conftest import change_url, changelist_url, do_url, messages_of
from tests.conftest import requires_postgres
from tests.factories import Cast, ticket_in_state, user_with
from tests.race import run_at_once
from workorders.models import AuditEntry, State, Ticket

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Both "someone else changed it" messages end so (Conflict and Stale, workorders.errors).
TOLD = "请刷新后重试"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _client(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


def _shown_version(page, name: str = "version") -> str:
    found = re.search(rf'name="{name}" value="(\d+)"', page.content.decode())
    assert found, f"the form carries the version the user saw ({name})"
    return found.group(1)


def _split(clients, pages, won_text: str):
    """Which client was told it succeeded and which was told the order changed."""
    won = [c for c, msgs in zip(clients, pages, strict=True) if any(won_text in m for m in msgs)]
    lost = [c for c, msgs in zip(clients, pages, strict=True) if any(TOLD in m for m in msgs)]
    return won, lost


def _redispatch_race(cast: Cast, other):
    ticket = ticket_in_state(cast, State.DISPATCHED)
    a, b = _client(cast.dispatcher), _client(other)
    # Both open the form before either submits: the same version on both screens.
    seen_a = _shown_version(a.get(do_url(ticket, "redispatch")))
    seen_b = _shown_version(b.get(do_url(ticket, "redispatch")))
    assert seen_a == seen_b

    def submit(client, department, seen):
        data = {"department": department.pk, "reason": "非本部门业务", "version": seen}
        return client.post(do_url(ticket, "redispatch"), data)

    results, errors = run_at_once(
        [
            lambda: submit(a, cast.business, seen_a),
            lambda: submit(b, cast.channel, seen_b),
        ]
    )
    assert errors == []
    assert [r.status_code for r in results] == [302, 302]
    told = [messages_of(c.get(change_url(ticket))) for c in (a, b)]
    won, lost = _split([a, b], told, "已转派")
    assert len(won) == 1 and len(lost) == 1, told
    return ticket, (cast.business if won[0] is a else cast.channel)


def test_two_admin_redispatches_at_once_one_wins_the_other_is_told():
    cast = Cast()
    other = user_with("dispatcher", department=cast.business, username="t_disp_b")
    for _round in range(10):
        ticket, winner_department = _redispatch_race(cast, other)
        fresh = Ticket.objects.get(pk=ticket.pk)
        assert fresh.department == winner_department
        assert fresh.redispatch_count == 1
        assert AuditEntry.objects.filter(ticket=ticket, transition="redispatch").count() == 1
        running = Clock.objects.filter(
            ticket=ticket, kind=ClockKind.SIGN_FOR, stopped_at__isnull=True, voided=False
        )
        assert [c.department_id for c in running] == [fresh.department_id]


def _bulk_dispatch_race(cast: Cast, other):
    ticket = ticket_in_state(cast, State.REPORTED)
    a, b = _client(cast.dispatcher), _client(other)

    def submit(client, department):
        data = {
            "action": "dispatch_to_department",
            ACTION_CHECKBOX_NAME: [ticket.pk],
            "apply": "1",
            "department": department.pk,
        }
        return client.post(changelist_url(), data)

    _results, errors = run_at_once(
        [lambda: submit(a, cast.business), lambda: submit(b, cast.channel)]
    )
    assert errors == []
    told = [messages_of(c.get(changelist_url())) for c in (a, b)]
    won = [c for c, msgs in zip((a, b), told, strict=True) if any("已派往" in m for m in msgs)]
    lost = [c for c, msgs in zip((a, b), told, strict=True) if any("未执行" in m for m in msgs)]
    assert len(won) == 1 and len(lost) == 1, told
    return ticket, (cast.business if won[0] is a else cast.channel)


def test_two_bulk_dispatches_at_once_one_wins_the_other_is_told():
    cast = Cast()
    other = user_with("dispatcher", department=cast.business, username="t_disp_b")
    for _round in range(5):
        ticket, winner_department = _bulk_dispatch_race(cast, other)
        assert Ticket.objects.get(pk=ticket.pk).department == winner_department
        assert AuditEntry.objects.filter(ticket=ticket, transition="dispatch").count() == 1


def test_two_bulk_assigns_from_forms_opened_together_one_wins_the_other_is_told():
    cast = Cast()
    other_lead = user_with("lead", department=cast.network, username="t_lead_b")
    second = user_with("handler", department=cast.network, username="t_handler_b")
    ticket = ticket_in_state(cast, State.ACCEPTED)
    a, b = _client(cast.lead), _client(other_lead)
    form = {"action": "assign_handler", ACTION_CHECKBOX_NAME: [ticket.pk], "index": 0}
    seen_a, seen_b = (
        _shown_version(c.post(changelist_url(), form), f"version_{ticket.pk}") for c in (a, b)
    )

    def submit(client, handler, seen):
        data = {
            "action": "assign_handler",
            ACTION_CHECKBOX_NAME: [ticket.pk],
            "apply": "1",
            "handler": handler.pk,
            f"version_{ticket.pk}": seen,
        }
        return client.post(changelist_url(), data)

    _results, errors = run_at_once(
        [lambda: submit(a, cast.handler, seen_a), lambda: submit(b, second, seen_b)]
    )
    assert errors == []
    told = [messages_of(c.get(changelist_url())) for c in (a, b)]
    won, lost = _split([a, b], told, "已指派")
    assert len(won) == 1 and len(lost) == 1, told
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.handler == (cast.handler if won[0] is a else second)
    assert AuditEntry.objects.filter(ticket=ticket, transition="assign").count() == 1
