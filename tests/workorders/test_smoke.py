from tests.factories import ticket_in_state
from workorders.models import State


def test_walk_to_every_state(cast):
    for state in State.values:
        t = ticket_in_state(cast, state)
        t.refresh_from_db()
        assert t.state == state
