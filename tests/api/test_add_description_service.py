import pytest

from tests.factories import ticket_in_state
from workorders import services
from workorders.errors import InvalidState, NotAllowed
from workorders.models import AuditEntry


def test_reporter_adds_to_description_and_original_stays(cast):
    t = ticket_in_state(cast, "dispatched")
    before = t.description
    v = t.version
    services.ticket_add_description(ticket=t, by=cast.frontline, text="客户补充：白天也掉线")
    t.refresh_from_db()
    assert t.description.startswith(before)
    assert "客户补充：白天也掉线" in t.description
    assert t.version == v + 1
    assert AuditEntry.objects.filter(ticket=t, transition="add_description").count() == 1


def test_someone_else_may_not_add_description(cast):
    t = ticket_in_state(cast, "reported")
    with pytest.raises(NotAllowed):
        services.ticket_add_description(ticket=t, by=cast.other_frontline, text="x")


def test_closed_order_takes_no_additions(cast):
    t = ticket_in_state(cast, "closed")
    with pytest.raises(InvalidState):
        services.ticket_add_description(ticket=t, by=cast.frontline, text="x")
