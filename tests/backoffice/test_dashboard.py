"""The department dashboard: counts in the user's scope, each linking to the filtered list."""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice.filters import local_week_start
from tests.factories import report, ticket_in_state
from workorders import services
from workorders.models import AuditEntry, State

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:workorders_ticket_dashboard"


def listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return {t.number for t in response.context["cl"].result_list}


def test_dashboard_linked_from_admin_index(cast, client_for):
    body = client_for(cast.lead).get(reverse("admin:index")).content.decode()
    assert reverse(DASHBOARD) in body
    assert "部门看板" in body


def test_dashboard_numbers_for_the_lead_and_their_drill_downs(cast, client_for):
    now = timezone.now()
    unclaimed = ticket_in_state(cast, State.DISPATCHED)
    at_risk = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=44))
    breached = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=51))
    closed = ticket_in_state(cast, State.CLOSED)
    elsewhere = report(cast, phone="13900001111")
    services.ticket_dispatch(ticket=elsewhere, by=cast.dispatcher, department=cast.business)

    client = client_for(cast.lead)
    response = client.get(reverse(DASHBOARD))
    assert response.status_code == 200
    ctx = response.context
    counts = {s["label"]: s["count"] for s in ctx["states"]}
    assert counts["已派单/待签收"] == 1  # the business order is not in the lead's scope
    assert counts["已报到/处理中"] == 2
    assert "已办结" not in counts  # open states only; closed this week has its own card
    assert ctx["unclaimed_count"] == 1
    assert [c.ticket_id for c in ctx["unclaimed"]] == [unclaimed.pk]
    assert ctx["unclaimed"][0].remaining > timedelta(hours=1)
    assert (ctx["at_risk_count"], ctx["breached_count"]) == ("1", "1")
    assert [t.number for t in ctx["at_risk"]] == [at_risk.number]
    assert [t.number for t in ctx["breached"]] == [breached.number]
    assert ctx["closed_week"] == 1
    assert ctx["closure_rate"] == "100.0%"
    # Response rate: the network line's claims this week (all within the sign-for limit).
    week_start = local_week_start(now)
    claims_this_week = AuditEntry.objects.filter(
        transition="claim", at__gte=week_start, ticket__department=cast.network
    ).count()
    assert claims_this_week >= 1
    assert (ctx["sign_met"], ctx["sign_stopped"]) == (claims_this_week, claims_this_week)
    assert ctx["response_rate"] == "100.0%"

    body = response.content.decode()
    for key in (
        "unclaimed_url",
        "at_risk_url",
        "breached_url",
        "closed_week_url",
        "signed_week_url",
        "due_today_url",
    ):
        assert ctx[key].replace("&", "&amp;") in body
    assert listed(client, ctx["unclaimed_url"]) == {unclaimed.number}
    assert listed(client, ctx["at_risk_url"]) == {at_risk.number}
    assert listed(client, ctx["breached_url"]) == {breached.number}
    assert listed(client, ctx["closed_week_url"]) == {closed.number}
    assert len(listed(client, ctx["signed_week_url"])) == claims_this_week
    for s in ctx["states"]:
        assert urlparse(s["url"]).path == reverse("admin:workorders_ticket_changelist")
        assert len(listed(client, s["url"])) == s["count"]


def test_dashboard_due_today(cast, client_for):
    now = timezone.now()
    # Reported 47h59m ago: promise due within a minute, so today in any time zone... unless
    # the test runs in the last minute of the day; then both sides move together.
    due = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=47, minutes=50))
    client = client_for(cast.lead)
    ctx = client.get(reverse(DASHBOARD)).context
    start = timezone.localtime(now).date()
    expected = {due.number} if timezone.localtime(due.promise_due_at).date() == start else set()
    assert listed(client, ctx["due_today_url"]) == expected
    assert ctx["due_today_count"] == str(len(expected))


def test_dashboard_for_dispatcher_covers_all_departments(cast, client_for):
    ticket_in_state(cast, State.DISPATCHED)
    other = report(cast, phone="13900001111")
    services.ticket_dispatch(ticket=other, by=cast.dispatcher, department=cast.business)
    ctx = client_for(cast.dispatcher).get(reverse(DASHBOARD)).context
    assert ctx["unclaimed_count"] == 2
    assert ctx["department"] is None
    assert "scope=" not in ctx["unclaimed_url"]


def test_dashboard_requires_order_view_permission(cast, client_for):
    assert client_for(cast.frontline).get(reverse(DASHBOARD)).status_code in (302, 404)


def test_dashboard_tiles_link_to_the_roles_presets(cast, client_for):
    waiting = [report(cast, phone=f"1390000{i:04d}") for i in range(2)]
    ticket_in_state(cast, State.DISPATCHED)
    response = client_for(cast.dispatcher).get(reverse(DASHBOARD))
    tiles = {p["slug"]: p for p in response.context["presets"]}
    assert list(tiles) == ["to_dispatch", "return_requested", "callback"]
    assert tiles["to_dispatch"]["count"] == str(len(waiting))
    body = response.content.decode()
    assert 'id="card-preset-to_dispatch"' in body
    assert f'href="{tiles["to_dispatch"]["url"]}"' in body
    listed = client_for(cast.dispatcher).get(tiles["to_dispatch"]["url"])
    assert {t.number for t in listed.context["cl"].result_list} == {t.number for t in waiting}
    lead = client_for(cast.lead).get(reverse(DASHBOARD)).context["presets"]
    assert [p["slug"] for p in lead] == ["to_claim", "at_risk", "breached", "my_approval"]
    assert lead[0]["count"] == "1"
