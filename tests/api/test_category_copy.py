"""The per-process copy of the categories (workorders.services.intake.CATEGORIES) seen from the
API: a warm report reads no category, and every kind of write to a category or its routing
department is seen by the next report."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext


def _api_report(client, category, phone: str):
    return client.post(
        "/api/v1/tickets/",
        {"category": category, "customer_phone": phone, "description": "断网"},
        format="json",
    )


def test_a_warm_api_report_reads_no_category_and_sees_each_kind_of_write(cast, api):
    from accounts.models import Department
    from workorders.models import Category
    from workorders.services import category_by_ref, routing_department

    client = api("frontline")
    routed = Category.objects.create(
        name="缴费未复机", code="t_paid", default_department=cast.network, sort_order=1
    )
    assert _api_report(client, routed.code, "13900000001").status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        assert _api_report(client, routed.pk, "13900000002").status_code == 201
    table = f'"{Category._meta.db_table}"'
    assert not [q["sql"] for q in ctx.captured_queries if table in q["sql"]]
    assert routing_department(category_by_ref(routed.pk)) == cast.network

    # A save, then a bulk update: each is seen by the next report.
    routed.name = "缴费后未复机"
    routed.save()
    assert category_by_ref("t_paid").name == "缴费后未复机"
    Category.objects.filter(pk=routed.pk).update(is_active=False)
    refused = _api_report(client, "t_paid", "13900000003")
    assert refused.status_code == 400 and "该分类已停用" in refused.content.decode()
    # The routing department's own writes too.
    Category.objects.filter(pk=routed.pk).update(is_active=True)
    Department.objects.filter(pk=cast.network.pk).update(is_active=False)
    assert routing_department(category_by_ref(routed.pk)) is None
    network = Department.objects.get(pk=cast.network.pk)
    network.is_active = True
    network.save()
    assert routing_department(category_by_ref(routed.pk)) == network
