"""PostgreSQL-only: two superusers saving overlapping rules at the same moment. Each alone
passes the overlap check; the rule saves are serialised, so exactly one is saved and the other
is refused naming it."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from sla.models import SlaPolicy
from sla.services import sla_rule_save
from tests.conftest import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_overlapping_rules_saved_at_once_one_is_refused():
    barrier = threading.Barrier(2)
    saved, refused, errors = [], [], []
    candidates = [
        SlaPolicy(kind="promise", urgency="general", channel="social", target_minutes=36 * 60),
        SlaPolicy(kind="promise", urgency="general", tier="vip", target_minutes=16 * 60),
    ]

    def save(rule):
        try:
            barrier.wait(timeout=30)
            saved.append(sla_rule_save(rule=rule))
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(r,)) for r in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(saved) == 1 and len(refused) == 1
    assert f"#{saved[0].pk}" in refused[0]
    assert SlaPolicy.objects.filter(active=True, kind="promise", urgency="general").count() == 2
