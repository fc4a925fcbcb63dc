"""The demo runs the reports' production path: `seed_demo` ends by building the KPI roll-up
from the demo's orders, equal to the live figures; seeding again leaves it as it is."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

from reports import kpis, rollup
from reports.models import KpiDaily, KpiRollupState
from workorders import demo
from workorders.models import Ticket


def test_seed_demo_builds_the_kpi_rollup_equal_to_the_live_figures(db, monkeypatch):
    monkeypatch.setattr(demo, "PLAN", [(state, 2) for state, _n in demo.PLAN])
    assert not rollup.is_built()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert rollup.is_built()
    assert "KPI roll-up built from" in out.getvalue()
    assert KpiDaily.objects.exists()
    span = Ticket.objects.aggregate(first=Min("reported_at"), last=Max("reported_at"))
    local = timezone.localtime
    period = kpis.period_for(
        "custom",
        start=local(span["first"], kpis.TZ).date() - timedelta(days=1),
        end=local(span["last"], kpis.TZ).date() + timedelta(days=1),
    )
    assert rollup.verify(period=period) == []

    built_at = KpiRollupState.objects.get().built_at
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "KPI roll-up built from" not in out.getvalue()
    assert KpiRollupState.objects.get().built_at == built_at
