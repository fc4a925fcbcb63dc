"""`seed_demo` leaves one suspected and one confirmed fault, found by the real detection, and
a second run adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from faults.models import Fault, FaultNotice, FaultState
from workorders import demo
from workorders.models import Category

pytestmark = pytest.mark.django_db


def test_seed_demo_has_one_suspected_and_one_confirmed_fault(monkeypatch):
    monkeypatch.setattr(demo, "PLAN", [(state, 1) for state, _n in demo.PLAN])
    call_command("seed_demo", stdout=StringIO())
    faults = {f.state: f for f in Fault.objects.all()}
    assert sorted(faults) == [FaultState.CONFIRMED, FaultState.SUSPECTED]
    confirmed, suspected = faults[FaultState.CONFIRMED], faults[FaultState.SUSPECTED]
    assert suspected.category.code == "broadband_fault" and suspected.order_count == 6
    assert confirmed.category.code == "signal_coverage" and confirmed.order_count == 7
    assert confirmed.eta is not None and confirmed.customer_message
    assert FaultNotice.objects.filter(fault=confirmed).count() == 7
    assert set(Category.objects.filter(clusterable=True).values_list("code", flat=True)) == {
        "signal_coverage",
        "broadband_fault",
    }
    versions = list(Fault.objects.order_by("pk").values_list("number", "version"))
    call_command("seed_demo", stdout=StringIO())
    assert list(Fault.objects.order_by("pk").values_list("number", "version")) == versions
