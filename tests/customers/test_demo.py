"""seed_demo gives every demo order its status link and one survey answer, idempotently."""

from io import StringIO

from django.core.management import call_command

from customers.models import CustomerNote, StatusLink, Survey
from workorders import demo
from workorders.models import State, Ticket


def test_seed_demo_adds_links_and_one_survey_answer_idempotently(db, monkeypatch):
    monkeypatch.setattr(demo, "PLAN", [(state, 3) for state, _n in demo.PLAN])
    out = StringIO()
    call_command("seed_demo", stdout=out)
    # 24 planned orders, plus the mass-fault demo's own reports.
    assert StatusLink.objects.count() == Ticket.objects.count() >= 24
    answered = Survey.objects.filter(answered_at__isnull=False)
    assert answered.count() == 1
    closed_by_survey = answered.get().ticket
    assert (closed_by_survey.state, closed_by_survey.visit_channel) == (State.CLOSED, "sms_survey")
    assert "/s/" in out.getvalue() and "Status pages of demo orders" in out.getvalue()
    counts = (StatusLink.objects.count(), Survey.objects.count(), CustomerNote.objects.count())
    out2 = StringIO()
    call_command("seed_demo", stdout=out2)
    assert (StatusLink.objects.count(), Survey.objects.count(), CustomerNote.objects.count()) == (
        counts
    )
    assert Survey.objects.filter(answered_at__isnull=False).count() == 1
    # The same links are printed again (rebuilt from the stored nonce, not stored).
    links = [line for line in out.getvalue().splitlines() if "/s/" in line]
    assert links == [line for line in out2.getvalue().splitlines() if "/s/" in line]
