"""Two answers at once on PostgreSQL: the order row is locked while the customer's input is
decided, so a double-tapped survey is recorded once and closes the order once, two notes at
once make one, and a survey racing a phone callback leaves exactly one verdict deciding."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from customers import services
from customers.models import CustomerNote, StatusLink, Survey
from customers.services import AlreadyAnswered
from tests.conftest import requires_postgres
from tests.factories import Cast, ticket_in_state
from tests.workorders.test_concurrency import run_at_once
from workorders import services as wo
from workorders.errors import Conflict, InvalidState, RateLimited
from workorders.models import AuditEntry, State, Ticket

pytestmark = [
    pytest.mark.postgres,
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_two_survey_answers_at_once_one_decides_one_is_refused():
    cast = Cast()
    t = ticket_in_state(cast, State.REPLIED)
    link = StatusLink.objects.get(ticket=t)
    now = timezone.now()

    def answer(sat):
        return lambda: services.survey_answer(link=link, resolved=True, satisfaction=sat, now=now)

    results, errors = run_at_once([answer("satisfied"), answer("basically")])
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], AlreadyAnswered), errors
    assert Survey.objects.get(ticket=t).satisfaction == results[0].satisfaction
    assert Ticket.objects.get(pk=t.pk).state == State.CLOSED
    assert AuditEntry.objects.filter(ticket=t, transition="close").count() == 1


def test_two_notes_at_once_make_one():
    cast = Cast()
    t = ticket_in_state(cast, State.ACCEPTED)
    link = StatusLink.objects.get(ticket=t)
    now = timezone.now()
    results, errors = run_at_once(
        [
            lambda: services.customer_note_add(link=link, text="甲", now=now),
            lambda: services.customer_note_add(
                link=link, text="乙", now=now + timedelta(seconds=1)
            ),
        ]
    )
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], RateLimited), errors
    assert CustomerNote.objects.filter(ticket=t).count() == 1


def test_survey_and_phone_callback_at_once_exactly_one_closes_the_order():
    cast = Cast()
    t = ticket_in_state(cast, State.REPLIED)
    link = StatusLink.objects.get(ticket=t)
    copy = Ticket.objects.get(pk=t.pk)  # the dispatcher's page, read before either acts
    now = timezone.now()
    _results, errors = run_at_once(
        [
            lambda: services.survey_answer(
                link=link, resolved=True, satisfaction="basically", now=now
            ),
            lambda: wo.ticket_visit(
                ticket=copy,
                by=cast.dispatcher,
                outcome="success",
                resolved=True,
                satisfaction="satisfied",
                now=now,
            ),
        ]
    )
    survey = Survey.objects.get(ticket=t)
    fresh = Ticket.objects.get(pk=t.pk)
    assert survey.answered  # the customer's words are kept either way
    assert fresh.state == State.CLOSED
    assert AuditEntry.objects.filter(ticket=t, transition="close").count() == 1
    if survey.applied:  # the survey decided first; the callback found the order closed
        assert len(errors) == 1 and isinstance(errors[0], Conflict | InvalidState), errors
        assert (fresh.visit_channel, fresh.visit_satisfaction) == ("sms_survey", "basically")
    else:  # the callback decided first; the answer is kept and changes nothing
        assert not errors, errors
        assert (fresh.visit_channel, fresh.visit_satisfaction) == ("phone", "satisfied")
