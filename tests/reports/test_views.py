"""The report page and its drill-down list: who may see them, what they show, bad input."""

import pytest

from reports import services
from reports.models import ReportRecipient

from .conftest import h

pytestmark = pytest.mark.django_db

WEEK = {"period": "custom", "start": "2026-11-02", "end": "2026-11-08"}


def page(client, user, url="/reports/", params=WEEK):
    client.force_login(user)
    return client.get(url, params)


def test_auditor_sees_headline_scorecard_and_links(world, cast, client):
    resp = page(client, cast.auditor)
    assert resp.status_code == 200
    html = resp.content.decode()
    # 限时办结率 4/6, 解决率 and 满意率 4/5, 响应率 5/7 (see test_kpis).
    for text in ("66.7%", "80.0%", "71.4%"):
        assert text in html
    assert "count=met_original" in html and "count=closed" in html
    assert "<svg" in html and "polyline" in html
    board = html[html.index("部门考核排名") :]
    assert board.index("网络保障") < board.index("业务管理")
    assert 'data-kpi="on_time_closure"' in html


def test_previous_period_beside_the_headline(world, cast, client):
    resp = page(client, cast.auditor, params={**WEEK, "start": "2026-11-09", "end": "2026-11-15"})
    html = resp.content.decode()
    # This week: o9 only (100 %); the previous week (o1..o6 closed) 66.7 % beside it.
    assert "100.0%" in html and "66.7%" in html
    assert "start=2026-11-02" in html and "end=2026-11-08" in html


@pytest.mark.parametrize("role", ["frontline", "handler"])
def test_roles_without_reports_are_refused(cast, client, role):
    assert page(client, cast.by_role(role)).status_code == 403
    assert page(client, cast.by_role(role), "/reports/orders/").status_code == 403


def test_dispatcher_sees_report_but_no_export_links(world, cast, client):
    resp = page(client, cast.dispatcher)
    assert resp.status_code == 200
    assert "/reports/export/" not in resp.content.decode()


def test_lead_page_is_scoped(world, cast, client):
    # o7 (网络保障) is open and long overdue: in the auditor's breached list, not the
    # 业务管理 lead's.
    assert world["o7"].number in page(client, cast.auditor).content.decode()
    assert world["o7"].number not in page(client, cast.other_lead).content.decode()
    resp = page(client, cast.other_lead, "/reports/orders/", {**WEEK, "count": "received"})
    numbers = {r["t"].number for r in resp.context["rows"]}
    assert numbers == {world["o2"].number}


def test_drill_down_lists_the_orders_behind_a_number(world, cast, client):
    resp = page(client, cast.auditor, "/reports/orders/", {**WEEK, "count": "met_original"})
    assert resp.status_code == 200
    numbers = {r["t"].number for r in resp.context["rows"]}
    assert numbers == {world[f"o{i}"].number for i in (1, 4, 5, 6)}
    # Phones masked for the auditor.
    assert "13900000001" not in resp.content.decode()


def test_drill_down_of_a_department_row(world, cast, client):
    params = {**WEEK, "count": "closed", "department": cast.business.pk, "dept_exact": "1"}
    resp = page(client, cast.auditor, "/reports/orders/", params)
    assert {r["t"].number for r in resp.context["rows"]} == {world["o2"].number}


def test_backlog_cells_link_to_their_orders(world, cast, client):
    import time_machine

    with time_machine.travel(h(24 * 7 + 10), tick=False):
        resp = page(
            client,
            cast.auditor,
            "/reports/orders/",
            {"backlog": "1", "state": "dispatched", "breached": "1"},
        )
    assert {r["t"].number for r in resp.context["rows"]} == {world["o7"].number}


def test_bad_period_keeps_input_and_explains(cast, client):
    resp = page(
        client,
        cast.auditor,
        params={"period": "custom", "start": "2026-11-09", "end": "2026-11-01", "region": "杭州"},
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "结束日期不能早于开始日期" in html
    assert 'value="2026-11-09"' in html and 'value="杭州"' in html


def test_scheduled_files_downloadable_within_scope(world, cast, client):
    ReportRecipient.objects.create(
        department=cast.network, email="n@example.com", frequency="daily"
    )
    files = services.report_build_and_send(frequency="daily", now=h(24 + 0.5))
    company = next(f for f in files if f.department is None)
    network = next(f for f in files if f.department_id == cast.network.pk)
    html = page(client, cast.auditor).content.decode()
    assert f"/reports/files/{company.pk}/" in html
    client.force_login(cast.auditor)
    resp = client.get(f"/reports/files/{company.pk}/")
    assert resp.status_code == 200 and b"".join(resp.streaming_content)[:2] == b"PK"
    client.force_login(cast.lead)
    assert client.get(f"/reports/files/{company.pk}/").status_code == 404
    assert client.get(f"/reports/files/{network.pk}/").status_code == 200


def test_language_switch_works_without_javascript(cast, client):
    """A plain submit button (no onchange script) switches the report page to English."""
    resp = page(client, cast.auditor)
    html = resp.content.decode()
    assert '<button type="submit" name="language" value="en"' in html
    assert "onchange" not in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/reports/"})
    html = page(client, cast.auditor).content.decode()
    assert 'value="zh-hans"' in html and "部门考核排名" not in html
