"""Survey answers count in 满意率 and 有效回访率 like callbacks; 解决率/满意率 split by visit
channel; 满意度调查回复率 = answered ÷ offered surveys. Worked by hand on six orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from customers import services as customer
from customers.models import StatusLink
from reports import kpis
from reports.kpis import period_for
from tests.factories import ticket_in_state
from workorders import services

from .conftest import T0

pytestmark = pytest.mark.django_db
WEEK = period_for("week", now=T0)
LATER = T0 + timedelta(hours=2)


def _survey(t, resolved, satisfaction):
    customer.survey_answer(
        link=StatusLink.objects.get(ticket=t),
        resolved=resolved,
        satisfaction=satisfaction,
        now=LATER,
    )


@pytest.fixture
def six(cast):
    """A: survey, satisfied → closed by the survey. B: phone callback, satisfied.
    C: frontline on the spot, basically satisfied. D: survey unsatisfied → redo proposed,
    declined → closed unsatisfied. E: survey offered, not answered (still replied).
    F: phone callback satisfied, then a survey answer (kept, changes nothing)."""
    o = {
        k: ticket_in_state(cast, "replied", now=T0, phone=f"1390000000{i}")
        for i, k in enumerate("ABCDEF")
    }
    _survey(o["A"], True, "satisfied")
    services.ticket_visit(
        ticket=o["B"],
        by=cast.dispatcher,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
        now=LATER,
    )
    services.ticket_visit(
        ticket=o["C"],
        by=cast.frontline,
        outcome="success",
        resolved=True,
        satisfaction="basically",
        now=LATER,
    )
    _survey(o["D"], False, "unsatisfied")
    services.ticket_decline_redo(ticket=o["D"], by=cast.supervisor, now=LATER + timedelta(hours=1))
    services.ticket_visit(
        ticket=o["F"],
        by=cast.dispatcher,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
        now=LATER,
    )
    _survey(o["F"], False, "unsatisfied")
    return o


def fig(row, key):
    f = row.figures[key]
    return (f.numerator, f.denominator, f.rate)


def test_survey_answers_count_in_satisfaction_and_valid_visit_rates(six, cast):
    row = kpis.kpi_summary(user=cast.auditor, period=WEEK)
    assert fig(row, "satisfaction") == (4, 5, 80.0)  # A, B, C, F of A B C D F
    assert fig(row, "resolution") == (4, 5, 80.0)
    assert fig(row, "valid_visit") == (5, 5, 100.0)


def test_resolution_and_satisfaction_split_by_visit_channel(six, cast):
    row = kpis.kpi_summary(user=cast.auditor, period=WEEK)
    assert fig(row, "satisfaction_sms") == (1, 2, 50.0)  # A of A, D
    assert fig(row, "resolution_sms") == (1, 2, 50.0)
    assert fig(row, "satisfaction_phone") == (2, 2, 100.0)  # B, F
    assert fig(row, "satisfaction_spot") == (1, 1, 100.0)  # C
    numbers = lambda count: set(  # noqa: E731
        kpis.orders_behind(user=cast.auditor, period=WEEK, scope=None, count=count).values_list(
            "number", flat=True
        )
    )
    assert numbers("visits_sms") == {six["A"].number, six["D"].number}
    assert numbers("visits_spot") == {six["C"].number}


def test_survey_response_rate_counts_answers_over_surveys_offered(six, cast):
    row = kpis.kpi_summary(user=cast.auditor, period=WEEK)
    assert fig(row, "survey_response") == (3, 6, 50.0)  # A, D, F answered of A..F
    behind = kpis.orders_behind(
        user=cast.auditor, period=WEEK, scope=None, count="surveys_answered"
    )
    assert set(behind.values_list("number", flat=True)) == {six[k].number for k in "ADF"}
    # The report page's one-pass figures agree with kpi_rows.
    figures = kpis.report_figures(user=cast.auditor, period=WEEK)
    assert figures.current.counts == row.counts


def test_report_page_and_export_show_the_visit_channel(six, cast):
    client = Client()
    client.force_login(cast.auditor)
    params = {"period": "custom", "start": "2026-11-02", "end": "2026-11-08"}
    html = client.get("/reports/", params).content.decode()
    assert 'id="visit-channels"' in html
    for label in ("电话回访", "短信满意度调查", "现场回访", "满意度调查回复率"):
        assert label in html
    resp = client.get("/reports/export/tickets.csv", params)
    body = b"".join(resp.streaming_content).decode("utf-8-sig").splitlines()
    header = body[0].split(",")
    col = header.index("回访渠道")
    by_number = {line.split(",")[0]: line.split(",")[col] for line in body[1:]}
    assert by_number[six["A"].number] == "短信满意度调查"
    assert by_number[six["B"].number] == "电话回访"
    assert by_number[six["C"].number] == "现场回访"
    assert by_number[six["E"].number] == ""
