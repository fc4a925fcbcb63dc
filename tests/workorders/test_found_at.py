"""发现时间 (found at): the moment a phone without network kept a report, stored on the order
when it arrives later, within sane bounds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import report
from workorders.errors import Invalid
from workorders.models import Ticket


def test_found_at_within_bounds_is_stored_beside_the_report_time(cast):
    now = timezone.now()
    found = now - timedelta(hours=5)

    ticket = report(cast, now=now, found_at=found)

    ticket.refresh_from_db()
    assert ticket.found_at == found
    assert ticket.reported_at == now  # the clocks still start when the order arrives


def test_without_found_at_the_order_has_none(cast):
    assert report(cast).found_at is None


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (timedelta(hours=72, minutes=1), "发现时间不能早于72小时前。"),
        (-timedelta(minutes=6), "发现时间不能晚于当前时间。"),
    ],
)
def test_found_at_out_of_bounds_is_refused_with_a_clear_message(cast, offset, message):
    now = timezone.now()
    with pytest.raises(Invalid) as exc:
        report(cast, now=now, found_at=now - offset)

    assert [str(m) for m in exc.value.fields["found_at"]] == [message]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "offset", [timedelta(hours=71, minutes=59), timedelta(0), -timedelta(minutes=4)]
)
def test_found_at_at_the_edges_is_accepted(cast, offset):
    now = timezone.now()
    assert report(cast, now=now, found_at=now - offset).found_at == now - offset
