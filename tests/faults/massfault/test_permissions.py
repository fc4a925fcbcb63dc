"""Rights per role on a fault of the network line (table-driven): who may see, confirm,
dismiss, link/unlink, set the ETA, resolve and close. The fault's state is the FSM's business;
these are the rights alone."""

from __future__ import annotations

import pytest
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault
from faults.permissions import RULES, may
from faults.selectors import faults_visible_to

from .conftest import orders_near

pytestmark = pytest.mark.django_db

ROLES = ["frontline", "dispatcher", "lead", "other_lead", "handler", "supervisor", "auditor"]
# action → the members of the cast who may take it on a network-line fault.
EXPECTED = {
    "view": {"dispatcher", "lead", "handler", "supervisor", "auditor"},
    "confirm": {"dispatcher"},
    "dismiss": {"dispatcher"},
    "link": {"dispatcher", "lead"},
    "unlink": {"dispatcher", "lead"},
    "set_eta": {"dispatcher", "lead"},
    "resolve": {"lead"},
    "close": {"dispatcher"},
}


@pytest.fixture
def fault(cast, net):
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now)
    fault_detect(now=now)
    return Fault.objects.get()


def test_the_table_covers_every_rule():
    assert set(EXPECTED) == set(RULES)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_rights_per_role(cast, fault, action):
    allowed = {role for role in ROLES if may(getattr(cast, role), action, fault)}
    assert allowed == EXPECTED[action]


def test_who_sees_the_fault(cast, fault):
    seeing = {role for role in ROLES if faults_visible_to(getattr(cast, role)).exists()}
    assert seeing == EXPECTED["view"]


def test_the_system_detects_links_and_closes_only(fault):
    assert {a for a in [*RULES, "detect"] if may(None, a, fault)} == {"detect", "link", "close"}


def test_an_inactive_user_may_do_nothing(cast, fault):
    cast.dispatcher.is_active = False
    cast.dispatcher.save()
    assert not any(may(cast.dispatcher, a, fault) for a in RULES)
