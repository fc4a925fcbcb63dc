"""The back office's index-friendly SLA predicate selects exactly what the SLA selector does,
for every status, including suspended (paused) and extended clocks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.filters import sla_status_q
from sla.models import SlaStatus
from sla.selectors import filter_sla_status
from tests.factories import ticket_in_state
from workorders import services
from workorders.models import State, Ticket

pytestmark = pytest.mark.django_db


def test_sla_status_q_matches_filter_sla_status(cast):
    now = timezone.now()
    for hours in (1, 30, 44, 47, 51, 80):
        ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=hours))
    for hours in (2, 45, 60):
        ticket_in_state(cast, State.SUSPENDED, now=now - timedelta(hours=hours))
    for hours in (1, 50):
        ticket_in_state(cast, State.REPLIED, now=now - timedelta(hours=hours))
        ticket_in_state(cast, State.CLOSED, now=now - timedelta(hours=hours))
    ticket_in_state(cast, State.CANCELLED)
    late = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=51))
    services.ticket_reply(
        ticket=late, by=cast.handler, result="已修复", cause="network", resolved=True, now=now
    )  # replied after the promise was due: missed
    urgent = ticket_in_state(
        cast,
        State.ACCEPTED,
        category=cast.urgent_category,
        now=now - timedelta(hours=3, minutes=30),
    )
    req = services.ticket_request_extension(ticket=urgent, by=cast.handler, hours=2, reason="备件")
    services.ticket_decide_extension(request=req, by=cast.supervisor, approve=True)

    seen = set()
    for status in SlaStatus.values:
        expected = set(
            filter_sla_status(Ticket.objects.all(), status, now=now).values_list("pk", flat=True)
        )
        got = set(Ticket.objects.filter(sla_status_q(status, now)).values_list("pk", flat=True))
        assert got == expected, status
        if expected:
            seen.add(status)
    # The data set really exercises every status.
    assert seen == set(SlaStatus.values)
