"""The survey on the status page: recorded through the same visit service as a dispatcher's
callback (channel sms_survey), so it closes the order or proposes the redo; a second answer is
refused politely; an answer after a visit decided the order is kept and changes nothing; the
callback queue waits for it for a share of the visit clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from customers import services
from customers.models import StatusLink, Survey
from customers.selectors import callback_queue
from tests.factories import ticket_in_state
from workorders import services as wo
from workorders.errors import InvalidState
from workorders.models import RedoProposal, RequestStatus, State, Ticket
from workorders.selectors import ticket_timeline

pytestmark = pytest.mark.django_db


def answer(ticket, *, resolved=True, satisfaction="satisfied", comment="", now=None):
    return services.survey_answer(
        link=StatusLink.objects.get(ticket=ticket),
        resolved=resolved,
        satisfaction=satisfaction,
        comment=comment,
        now=now,
    )


def test_a_reply_offers_a_survey_for_that_reply(replied):
    survey = Survey.objects.get(ticket=replied)
    assert survey.offered_at == replied.replied_at
    assert survey.reply_entry.transition == "reply"
    assert not survey.answered


def test_resolved_and_satisfied_closes_the_order_as_a_visit_by_sms_survey(replied):
    survey = answer(replied, satisfaction="basically", comment="挺好")
    t = Ticket.objects.get(pk=replied.pk)
    assert t.state == State.CLOSED
    assert (t.visit_outcome, t.visit_resolved, t.visit_satisfaction) == (
        "success",
        True,
        "basically",
    )
    assert t.visit_channel == "sms_survey" and t.visit_by is None and t.visit_note == "挺好"
    close = t.audit.get(transition="close")
    assert close.actor is None and close.actor_role == "customer"
    assert close.data["channel"] == "sms_survey"
    assert survey.applied is True
    assert t.clocks.get(kind="visit").stopped_at == t.closed_at


@pytest.mark.parametrize(
    ("resolved", "satisfaction"), [(False, "satisfied"), (True, "unsatisfied")]
)
def test_unresolved_or_unsatisfied_proposes_the_redo_like_a_callback(
    replied, cast, resolved, satisfaction
):
    answer(replied, resolved=resolved, satisfaction=satisfaction, comment="还是不行")
    t = Ticket.objects.get(pk=replied.pk)
    assert t.state == State.REPLIED
    proposal = RedoProposal.objects.get(ticket=t)
    assert proposal.proposed_by is None and proposal.channel == "sms_survey"
    assert proposal.reason == "还是不行" and proposal.status == RequestStatus.PENDING
    entry = t.audit.get(transition="propose_redo")
    assert entry.actor_role == "customer" and entry.data["channel"] == "sms_survey"
    # The supervisor decides as after a phone visit: confirm → redo.
    wo.ticket_redo(ticket=t, by=cast.supervisor)
    assert t.state == State.ACCEPTED and t.redo_count == 1


def test_a_declined_redo_closes_with_the_customers_verdict_and_channel(replied, cast):
    answer(replied, resolved=False, satisfaction="unsatisfied")
    t = Ticket.objects.get(pk=replied.pk)
    wo.ticket_decline_redo(ticket=t, by=cast.supervisor, note="已尽力")
    t.refresh_from_db()
    assert t.state == State.CLOSED
    assert (t.visit_satisfaction, t.visit_resolved, t.visit_channel) == (
        "unsatisfied",
        False,
        "sms_survey",
    )
    assert t.audit.get(transition="close").actor_role == "customer"


def test_answering_twice_is_refused_politely(replied):
    client = Client()
    path = services.status_link_for(replied)
    data = {"resolved": "yes", "satisfaction": "satisfied"}
    first = client.post(path + "survey/", data)
    assert first.status_code == 302
    assert "感谢您的评价" in client.get(path).content.decode()
    second = client.post(path + "survey/", {"resolved": "no", "satisfaction": "unsatisfied"})
    assert second.status_code == 409
    assert "您已评价过本次处理，感谢您的反馈。" in second.content.decode()
    survey = Survey.objects.get(ticket=replied)
    assert (survey.resolved, survey.satisfaction) == (True, "satisfied")


def test_an_answer_after_a_phone_visit_closed_the_order_is_kept_and_changes_nothing(replied, cast):
    wo.ticket_visit(
        ticket=replied,
        by=cast.dispatcher,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
    )
    before = Ticket.objects.filter(pk=replied.pk).values().get()
    survey = answer(replied, resolved=False, satisfaction="unsatisfied", comment="其实没修好")
    assert survey.answered and survey.applied is False
    assert Ticket.objects.filter(pk=replied.pk).values().get() == before
    assert Ticket.objects.get(pk=replied.pk).visit_channel == "phone"
    assert not RedoProposal.objects.filter(ticket=replied).exists()
    # Staff still see what the customer said.
    texts = [i["text"] for i in ticket_timeline(replied, user=cast.dispatcher)]
    assert any("其实没修好" in x and "仅作记录" in x for x in texts)


def test_an_answer_while_a_callback_redo_proposal_is_pending_changes_nothing(replied, cast):
    wo.ticket_visit(
        ticket=replied,
        by=cast.dispatcher,
        outcome="success",
        resolved=False,
        satisfaction="unsatisfied",
    )
    survey = answer(replied)
    t = Ticket.objects.get(pk=replied.pk)
    assert survey.applied is False and t.state == State.REPLIED
    assert RedoProposal.objects.get(ticket=t).proposed_by == cast.dispatcher


def test_no_survey_before_the_reply(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    with pytest.raises(InvalidState):
        answer(t)
    assert 'id="survey"' not in Client().get(services.status_link_for(t)).content.decode()


def test_after_a_redo_the_next_reply_offers_a_new_survey(replied, cast):
    answer(replied, resolved=False, satisfaction="unsatisfied")
    t = Ticket.objects.get(pk=replied.pk)
    wo.ticket_redo(ticket=t, by=cast.supervisor)
    wo.ticket_reply(ticket=t, by=cast.handler, result="二次上门", cause="network", resolved=True)
    assert Survey.objects.filter(ticket=t).count() == 2
    answer(t)
    assert Ticket.objects.get(pk=t.pk).state == State.CLOSED


def test_bad_survey_input_is_refused_with_field_errors_and_keeps_the_comment(replied):
    path = services.status_link_for(replied)
    resp = Client().post(path + "survey/", {"comment": "想说的话"})
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "想说的话" in html and html.count('class="err"') >= 2
    assert Ticket.objects.get(pk=replied.pk).state == State.REPLIED


# --------------------------------------------------------------------------- callback queue


def test_callback_queue_waits_for_the_survey_for_a_share_of_the_visit_clock(cast, settings):
    now = timezone.now()
    t = ticket_in_state(cast, State.REPLIED, now=now)  # general: visit target 24 h
    replied_at = t.replied_at
    qs = Ticket.objects.all()
    assert t not in callback_queue(qs, now=replied_at + timedelta(hours=11, minutes=59))
    assert t in callback_queue(qs, now=replied_at + timedelta(hours=12, minutes=1))
    # An answer that proposes the redo ends the wait: the order is the dispatchers' again.
    answer(t, resolved=False, satisfaction="unsatisfied", now=replied_at + timedelta(hours=1))
    assert t in callback_queue(qs, now=replied_at + timedelta(hours=1))


def test_the_wait_share_is_a_setting_and_orders_without_a_survey_are_called_as_before(
    cast, settings
):
    settings.SURVEY_WAIT_SHARE = 0
    t = ticket_in_state(cast, State.REPLIED)
    assert t in callback_queue(Ticket.objects.all(), now=t.replied_at)
    settings.SURVEY_WAIT_SHARE = 0.5
    old = ticket_in_state(cast, State.REPLIED, phone="13900000009")
    Survey.objects.filter(ticket=old).delete()  # replied before surveys existed
    assert old in callback_queue(Ticket.objects.all(), now=old.replied_at)


def test_back_office_preset_and_api_filter_use_the_queue(cast):
    from rest_framework.test import APIClient

    waiting = ticket_in_state(cast, State.REPLIED)
    due = ticket_in_state(cast, State.REPLIED, phone="13900000008")
    Survey.objects.filter(ticket=due).update(wait_until=timezone.now() - timedelta(minutes=1))
    client = Client()
    client.force_login(cast.dispatcher)
    html = client.get("/admin/workorders/ticket/", {"callback": "due"}).content.decode()
    assert due.number in html and waiting.number not in html
    assert "?callback=due" in client.get("/admin/workorders/ticket/").content.decode()
    api = APIClient()
    api.force_authenticate(cast.dispatcher)
    resp = api.get("/api/v1/tickets/", {"callback": "true"})
    assert [r["number"] for r in resp.json()["results"]] == [due.number]
