"""The order changelist: scope per role, columns, filters, search, presets, query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.ticket_admin import TicketAdmin
from customers.models import Survey
from tests.backoffice.conftest import change_url, changelist_url
from tests.factories import DepartmentFactory, report, ticket_in_state, user_with
from workorders import services
from workorders.models import State, Ticket

pytestmark = pytest.mark.django_db


def numbers_on_page(response) -> set[str]:
    return {t.number for t in response.context["cl"].result_list}


@pytest.fixture
def spread(cast):
    """An order in the lead's line, one in another line, one not yet dispatched."""
    mine = ticket_in_state(cast, State.DISPATCHED)
    other = report(cast, phone="13900001111")
    services.ticket_dispatch(ticket=other, by=cast.dispatcher, department=cast.business)
    undispatched = report(cast, phone="13700002222")
    return {"mine": mine, "other": other, "undispatched": undispatched}


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("lead", {"mine"}),
        ("handler", {"mine"}),
        ("other_lead", {"other"}),
        ("dispatcher", {"mine", "other", "undispatched"}),
        ("supervisor", {"mine", "other", "undispatched"}),
        ("auditor", {"mine", "other", "undispatched"}),
    ],
)
def test_changelist_shows_each_role_exactly_its_scope(cast, spread, client_for, role, sees):
    response = client_for(cast.by_role(role)).get(changelist_url())
    assert response.status_code == 200
    assert numbers_on_page(response) == {spread[k].number for k in sees}


def test_lead_sees_orders_of_sub_departments(cast, client_for):
    team = DepartmentFactory(name="家宽班", code="t_bb", parent=cast.network)
    t = report(cast)
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=team)
    response = client_for(cast.lead).get(changelist_url())
    assert t.number in numbers_on_page(response)


def test_object_url_outside_scope_is_404(cast, spread, client_for):
    client = client_for(cast.lead)
    assert client.get(change_url(spread["mine"])).status_code == 200
    assert client.get(change_url(spread["other"])).status_code == 404
    assert client.get(change_url(spread["other"]) + "../history/").status_code == 404
    from tests.backoffice.conftest import do_url

    assert client.get(do_url(spread["other"], "claim")).status_code == 404


@pytest.mark.parametrize(
    ("role", "actions"),
    [
        ("lead", {"claim_selected", "assign_handler", "approve_extensions"}),
        ("handler", {"claim_selected"}),
        ("dispatcher", {"dispatch_to_department", "chase_selected"}),
        ("supervisor", {"approve_extensions", "supervise_selected", "chase_selected"}),
        ("auditor", set()),
    ],
)
def test_bulk_actions_offered_per_role(cast, spread, client_for, role, actions):
    response = client_for(cast.by_role(role)).get(changelist_url())
    offered = {
        name
        for name, _label in response.context["cl"].model_admin.get_action_choices(
            response.wsgi_request, default_choices=[]
        )
    }
    assert offered == actions
    body = response.content.decode()
    if not actions:
        assert 'name="action"' not in body
        assert "action-checkbox" not in body


def test_auditor_is_read_only(cast, spread, client_for):
    client = client_for(cast.auditor)
    t = spread["mine"]
    page = client.get(change_url(t))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_add_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert page.context["bo_transitions"] == []
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/admin/workorders/ticket/add/").status_code == 403
    assert client.post(change_url(t), {"title": "改"}).status_code == 403
    delete = reverse("admin:workorders_ticket_delete", args=[t.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    t.refresh_from_db()
    assert t.title != "改"


def test_columns_and_sla_badges(cast, client_for):
    now = timezone.now()
    on_track = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=1))
    at_risk = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=44))
    breached = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=51))
    response = client_for(cast.lead).get(changelist_url())
    body = response.content.decode()
    assert response.status_code == 200
    for header in (
        "工单号",
        "紧急程度",
        "状态",
        "责任部门",
        "处理人",
        "标记",
        "剩余时间",
        "报单时间",
    ):
        assert header in body
    # Category and risk are on the order page; the promise's due time is under the badge.
    assert "问题分类</a>" not in body and "越级风险</a>" not in body
    assert body.count('class="bo-due"') == 3
    rows = {t.number: t for t in response.context["cl"].result_list}
    assert rows[on_track.number].sla_status == "on_track"
    assert rows[at_risk.number].sla_status == "at_risk"
    assert rows[breached.number].sla_status == "breached"
    assert body.count('class="sla-badge sla-on_track"') == 1
    assert body.count('class="sla-badge sla-at_risk"') == 1
    assert body.count('class="sla-badge sla-breached"') == 1
    assert "已超时 " in body  # red badge says how long overdue


def test_default_queue_is_open_work_by_time_left_breached_first(cast, client_for):
    now = timezone.now()
    day_left = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=20))
    breached = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=60))
    urgent_fresh = ticket_in_state(cast, State.ACCEPTED, now=now, category=cast.urgent_category)
    closed = ticket_in_state(cast, State.CLOSED, now=now - timedelta(hours=70))
    cancelled = ticket_in_state(cast, State.CANCELLED, now=now - timedelta(hours=80))
    client = client_for(cast.dispatcher)
    response = client.get(changelist_url())
    order = [t.number for t in response.context["cl"].result_list]
    assert order[0] == breached.number
    assert order.index(breached.number) < order.index(day_left.number)
    assert closed.number not in order and cancelled.number not in order
    assert urgent_fresh.number in order
    # The 剩余时间 column carries the ascending arrow: the order the rows are in.
    assert response.context["cl"].get_ordering_field_columns() == {2: "asc"}
    # One click away: the finished ones, and everything.
    body = response.content.decode()
    assert "?queue=done" in body and "?queue=all" in body
    done = numbers_on_page(client.get(changelist_url() + "?queue=done"))
    assert done == {closed.number, cancelled.number}
    everything = numbers_on_page(client.get(changelist_url() + "?queue=all"))
    assert {closed.number, breached.number} <= everything
    # Asking for a state explicitly shows it whatever the queue says.
    assert numbers_on_page(client.get(changelist_url() + "?state__exact=closed")) == {closed.number}


def test_sorting_by_time_left_puts_breached_first_and_descending_last(cast, client_for):
    now = timezone.now()
    day_left = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=20))
    breached = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=60))
    fresh = ticket_in_state(cast, State.ACCEPTED, now=now)
    client = client_for(cast.lead)
    asc = client.get(changelist_url() + "?o=2")
    assert [t.number for t in asc.context["cl"].result_list] == [
        breached.number,
        day_left.number,
        fresh.number,
    ]
    assert asc.context["cl"].get_ordering_field_columns()[2] == "asc"
    desc = client.get(changelist_url() + "?o=-2")
    assert [t.number for t in desc.context["cl"].result_list] == [
        fresh.number,
        day_left.number,
        breached.number,
    ]
    assert desc.context["cl"].get_ordering_field_columns()[2] == "desc"


def test_urgency_sort_ascending_is_general_first(cast, client_for):
    now = timezone.now()
    urgent = ticket_in_state(cast, State.ACCEPTED, now=now, category=cast.urgent_category)
    general = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=1))
    client = client_for(cast.lead)
    col = 1 + TicketAdmin.list_display.index("urgency_display")
    asc = [t.number for t in client.get(changelist_url() + f"?o={col}").context["cl"].result_list]
    desc = [t.number for t in client.get(changelist_url() + f"?o=-{col}").context["cl"].result_list]
    assert asc == [general.number, urgent.number]
    assert desc == [urgent.number, general.number]


def test_filters_sla_flags_escalation_stage(cast, client_for):
    now = timezone.now()
    breached = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=51))
    fresh = ticket_in_state(cast, State.ACCEPTED, now=now, is_elderly=True)
    Ticket.objects.filter(pk=breached.pk).update(escalation_level=2)
    client = client_for(cast.lead)

    def listed(qs: str) -> set[str]:
        return numbers_on_page(client.get(changelist_url() + qs))

    assert listed("?sla=breached") == {breached.number}
    assert listed("?sla=on_track") == {fresh.number}
    assert listed("?flag=elderly") == {fresh.number}
    assert listed("?escalation=2") == {breached.number}
    assert listed("?escalation=0") == {fresh.number}
    assert listed("?stage=handle") == {breached.number, fresh.number}
    assert listed("?stage=close") == set()
    assert listed(f"?handler={cast.handler.pk}") == {breached.number, fresh.number}


def test_search_by_number_phone_last_four_name_text(cast, client_for):
    a = report(cast, phone="13812345678", customer_name="王小明", description="光猫红灯闪烁")
    b = report(cast, phone="13900005678", customer_name="李四", description="信号差")
    c = report(cast, phone="13700001111", customer_name="张三", description="宽带掉线")
    client = client_for(cast.dispatcher)

    def found(term: str) -> set[str]:
        return numbers_on_page(client.get(changelist_url(), {"q": term}))

    assert found(a.number) == {a.number}
    assert found("13812345678") == {a.number}
    assert found("5678") == {a.number, b.number}
    assert found("王小明") == {a.number}
    assert found("掉线") == {c.number}


@pytest.mark.parametrize(
    ("role", "presets"),
    [
        ("dispatcher", ["to_dispatch", "return_requested", "callback"]),
        ("lead", ["to_claim", "at_risk", "breached", "my_approval"]),
        ("supervisor", ["breached", "supervised", "high_risk"]),
    ],
)
def test_each_role_has_its_preset_tabs_as_plain_query_strings(
    cast, spread, client_for, role, presets
):
    response = client_for(cast.by_role(role)).get(changelist_url())
    tabs = response.context["bo_preset_tabs"]
    assert [t["slug"] for t in tabs] == presets
    body = response.content.decode()
    for tab in tabs:
        assert tab["url"] == changelist_url() + f"?preset={tab['slug']}"
        assert f'href="{tab["url"]}"' in body


def test_presets_select_their_orders_and_a_lead_only_his_departments(cast, client_for):
    now = timezone.now()
    undispatched = report(cast, phone="13700002222")
    mine = ticket_in_state(cast, State.DISPATCHED)
    other = report(cast, phone="13900001111")
    services.ticket_dispatch(ticket=other, by=cast.dispatcher, department=cast.business)
    breached = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=60))
    at_risk = ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=44))
    returned = ticket_in_state(cast, State.RETURN_REQUESTED)
    replied = ticket_in_state(cast, State.REPLIED)
    Survey.objects.filter(ticket=replied).update(wait_until=now - timedelta(minutes=1))
    closed_late = ticket_in_state(cast, State.CLOSED, now=now - timedelta(hours=80))
    services.ticket_supervise(ticket=breached, by=cast.supervisor, note="尽快处理")
    Ticket.objects.filter(pk=at_risk.pk).update(risk_score=90)

    def listed(user, slug):
        response = client_for(user).get(changelist_url() + f"?preset={slug}")
        assert response.status_code == 200
        tab = next(t for t in response.context["bo_preset_tabs"] if t["slug"] == slug)
        assert tab["current"]
        numbers = numbers_on_page(response)
        assert tab["count"] == str(len(numbers))
        return numbers

    assert listed(cast.dispatcher, "to_dispatch") == {undispatched.number}
    assert listed(cast.dispatcher, "return_requested") == {returned.number}
    # 待回访 is the callback queue (replied orders not waiting for the customer's survey).
    callback_due = numbers_on_page(
        client_for(cast.dispatcher).get(changelist_url(), {"callback": "due"})
    )
    assert listed(cast.dispatcher, "callback") == callback_due == {replied.number}
    # The lead's own department only (the other line's dispatched order is not his).
    assert listed(cast.lead, "to_claim") == {mine.number}
    assert listed(cast.other_lead, "to_claim") == {other.number}
    assert listed(cast.lead, "breached") == {breached.number}
    assert closed_late.number not in listed(cast.supervisor, "breached")
    assert listed(cast.lead, "at_risk") == {at_risk.number}
    assert listed(cast.supervisor, "supervised") == {breached.number}
    assert listed(cast.supervisor, "high_risk") == {at_risk.number}
    assert listed(cast.other_lead, "breached") == set()


def test_awaiting_my_approval_preset(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    other = ticket_in_state(cast, State.ACCEPTED)
    services.ticket_request_extension(ticket=t, by=cast.handler, hours=4, reason="等备件")
    response = client_for(cast.lead).get(changelist_url() + "?pending=any")
    assert numbers_on_page(response) == {t.number}
    assert other.number not in numbers_on_page(response)


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(changelist_url())
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.context["cl"].result_list)


def test_changelist_query_count_is_the_same_at_10_and_100_orders(cast, client_for):
    handler2 = user_with("handler", department=cast.network, username="t_handler2")

    def make(n):
        for i in range(n):
            t = ticket_in_state(
                cast, State.DISPATCHED, phone=f"1380000{i:04d}", is_elderly=i % 2 == 0
            )
            if i % 3 == 0:
                services.ticket_claim(ticket=t, by=cast.lead, handler=handler2)

    make(10)
    client = client_for(cast.lead)
    queries_10, rows_10 = _changelist_queries(client)
    make(90)
    queries_100, rows_100 = _changelist_queries(client)
    assert (rows_10, rows_100) == (10, 50)  # a page is 50 rows
    assert queries_10 == queries_100
    show_all = client.get(changelist_url() + "?all=")
    assert len(show_all.context["cl"].result_list) == 100
    with CaptureQueriesContext(connection) as ctx:
        client.get(changelist_url() + "?all=")
    # All 100 rows on one page: still no per-row queries (no more than a 50-row page).
    assert len(ctx.captured_queries) <= queries_100


@pytest.mark.parametrize(
    ("role", "preset"),
    [
        ("dispatcher", ""),
        ("dispatcher", "to_dispatch"),
        ("dispatcher", "return_requested"),
        ("dispatcher", "callback"),
        ("lead", ""),
        ("lead", "to_claim"),
        ("lead", "at_risk"),
        ("lead", "breached"),
        ("lead", "my_approval"),
        ("supervisor", "breached"),
        ("supervisor", "supervised"),
        ("supervisor", "high_risk"),
    ],
)
def test_changelist_query_count_of_each_preset_is_the_same_at_5_and_50_rows(
    cast, client_for, monkeypatch, role, preset
):
    now = timezone.now()
    states = [
        State.REPORTED,
        State.DISPATCHED,
        State.ACCEPTED,
        State.RETURN_REQUESTED,
        State.REPLIED,
    ]
    for i in range(15):
        state = states[i % 5]
        age = timedelta(hours=[1, 44, 60][i % 3])
        t = ticket_in_state(cast, state, now=now - age, phone=f"1380000{i:04d}")
        Ticket.objects.filter(pk=t.pk).update(risk_score=90, supervise_count=1)
        if state == State.ACCEPTED:
            services.ticket_request_extension(
                ticket=t,
                by=cast.handler,
                hours=4,
                reason="备件",
                now=now - age + timedelta(minutes=9),
            )
    # The customers did not answer the survey in time: the replies are the dispatchers' to call.
    Survey.objects.update(wait_until=now - timedelta(minutes=1))
    client = client_for(cast.by_role(role))
    url = changelist_url() + (f"?preset={preset}" if preset else "")

    def count(per_page):
        monkeypatch.setattr(TicketAdmin, "list_per_page", per_page)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.context["cl"].result_list)

    small, rows_small = count(2)
    big, rows_big = count(50)
    assert rows_big > rows_small  # the bigger page really shows more orders
    assert small == big


def test_a_preset_is_kept_in_the_order_links_and_back(cast, client_for):
    t = report(cast)
    client = client_for(cast.dispatcher)
    body = client.get(changelist_url() + "?preset=to_dispatch").content.decode()
    # The admin carries the queue to the order page (and "save and next" can walk it).
    assert f"{change_url(t)}?_changelist_filters=preset%3Dto_dispatch" in body


def test_tabs_and_navigation_in_english(cast, client_for):
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(cast.lead)
    response = client.get(changelist_url())
    tabs = response.content.decode().split('<nav class="bo-queues"')[1].split("</nav>")[0]
    topnav = response.content.decode().split('<nav class="bo-topnav"')[1].split("</nav>")[0]
    for text in ("Open", "Finished", "All", "Awaiting claim", "Breached"):
        assert text in tabs, text
    assert "Notifications" in topnav and "Reports" in topnav
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in tabs + topnav), tabs + topnav


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_quick_action_checkbox_is_djangos_markup(cast, lang):
    from django.contrib import admin as django_admin
    from django.utils import translation

    from backoffice.ticket_admin import TicketAdmin

    t = ticket_in_state(cast, State.DISPATCHED)
    model_admin = TicketAdmin(Ticket, django_admin.site)
    with translation.override(lang):
        quick = model_admin.action_checkbox(t)
        stock = django_admin.ModelAdmin.action_checkbox(model_admin, t)
    assert str(quick) == str(stock)
    assert t.number in quick


@pytest.mark.parametrize(
    ("role", "expected"),
    # SQLite, PostgreSQL. The default queue (open work) is filtered, so PostgreSQL counts it
    # as SQLite does; the role's preset tabs and the bell's unread count are in the figure.
    [("dispatcher", (15, 15)), ("lead", (17, 17))],
)
def test_changelist_query_count_is_pinned_per_role(cast, client_for, role, expected):
    """The page's queries do not depend on how many orders there are or how many are on it."""
    client = client_for(cast.by_role(role))

    def make(start, n):
        for i in range(start, start + n):
            t = ticket_in_state(cast, State.DISPATCHED, phone=f"1390000{i:04d}")
            if i % 3 == 0:
                services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler)

    make(0, 3)
    client.get(changelist_url())  # warm per-process reference caches
    few = _changelist_queries(client)
    make(3, 57)
    many = _changelist_queries(client)
    assert (few[1], many[1]) == (3, 50)
    assert few[0] == many[0] == expected[connection.vendor == "postgresql"]


def test_a_list_over_the_count_cap_is_not_counted_again_on_the_next_view(
    cast, client_for, settings, monkeypatch
):
    from django.core.cache import cache

    from backoffice.paginator import CappedCountPaginator

    settings.BACKOFFICE_COUNT_CAP = 3
    monkeypatch.setattr(CappedCountPaginator, "SMALL", 2)
    for i in range(5):
        ticket_in_state(cast, State.DISPATCHED, phone=f"1390000{i:04d}")
    client = client_for(cast.lead)  # a scoped (filtered) list: no table estimate
    client.get(changelist_url())  # warm per-process caches; counts and remembers "over"
    counted_view = client.get(changelist_url())
    with CaptureQueriesContext(connection) as remembered:
        again = client.get(changelist_url())
    cache.clear()  # the memory expired
    with CaptureQueriesContext(connection) as counted:
        client.get(changelist_url())
    assert len(remembered.captured_queries) == len(counted.captured_queries) - 2
    for response in (counted_view, again):
        cl = response.context["cl"]
        assert cl.paginator.count == 3 and not cl.paginator.count_is_exact
        assert len(cl.result_list) == 5


def _result_table(client, query: str) -> str:
    import re

    body = client.get(changelist_url() + query).content.decode()
    match = re.search(r'<table id="result_list">.*?</table>', body, re.S)
    assert match, body[:500]
    return match.group(0)


@pytest.mark.parametrize(
    ("who", "query"),
    [
        ("dispatcher", ""),
        ("dispatcher", "?queue=all"),
        ("dispatcher", "?queue=done&o=-9"),
        ("dispatcher", "?preset=to_dispatch"),
        ("lead", ""),
        ("lead", "?queue=all&o=-2"),
        ("supervisor", "?queue=all&state__exact=accepted"),
        ("handler", "?queue=all"),
    ],
)
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_rows_are_written_as_djangos_admin_writes_them(cast, who, query, lang, monkeypatch):
    """backoffice.result_rows writes the queue's rows itself (each column worked out once per
    page): the table is the same markup Django's own rows give, for every role, queue,
    sort, search and language, with orders in many states, with and without a handler."""
    from django.test import Client

    from backoffice.templatetags import backoffice as tags

    for i, state in enumerate(
        [State.REPORTED, State.DISPATCHED, State.ACCEPTED, State.SUSPENDED, State.REPLIED]
    ):
        ticket_in_state(cast, state, phone=f"1390000{i:04d}")
    ticket_in_state(cast, State.CLOSED, phone="13900009999")
    services.ticket_dispatch(
        ticket=report(cast, phone="13900008888", star_level=5),
        by=cast.dispatcher,
        department=cast.network,
    )
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(getattr(cast, who))
    ours = _result_table(client, query)
    assert "<tr" in ours.split("</thead>")[1]  # some rows to compare
    monkeypatch.setattr(tags, "fast_results", lambda cl: None)  # Django's own rows
    assert _result_table(client, query) == ours


def _hierarchy_titles(response) -> list[str]:
    import re

    body = response.content.decode()
    nav = re.search(r'<nav class="toplinks">(.*?)</nav>', body, re.S)
    assert nav, "no date hierarchy on the page"
    return [t.strip() for t in re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(1))]


def test_a_long_lists_date_links_run_from_its_first_order_to_today(
    cast, client_for, settings, monkeypatch
):
    """Many matches: the first report time from the index, today as the last, without walking
    back through newer orders outside the list (the orders not dispatched yet, for a lead)."""
    from backoffice.paginator import CappedCountPaginator

    settings.BACKOFFICE_COUNT_CAP = 3
    monkeypatch.setattr(CappedCountPaginator, "SMALL", 2)
    now = timezone.now()
    two_years_ago = now - timedelta(days=730)
    for i in range(4):
        ticket_in_state(cast, State.DISPATCHED, phone=f"1390000{i:04d}", now=two_years_ago)
    for i in range(3):  # newer, not dispatched: outside the lead's list
        report(cast, phone=f"1380000{i:04d}")
    client = client_for(cast.lead)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(changelist_url() + "?queue=all")
    years = _hierarchy_titles(response)
    first = timezone.localtime(two_years_ago).year
    assert years == [str(y) for y in range(first, timezone.localtime(now).year + 1)]
    # One bound read (the oldest), not a second walk from the newest order back.
    bound_reads = [q for q in ctx.captured_queries if "ORDER BY 1" in q["sql"]]
    assert len(bound_reads) == 1 and "ASC" in bound_reads[0]["sql"]


def test_a_short_lists_date_links_run_between_its_own_first_and_last_order(cast, client_for):
    long_ago = timezone.now() - timedelta(days=800)
    for i in range(2):
        ticket_in_state(cast, State.DISPATCHED, phone=f"1390000{i:04d}", now=long_ago)
    client = client_for(cast.lead)
    titles = _hierarchy_titles(client.get(changelist_url() + "?queue=all"))
    # Both orders on one day, 800 days ago: that day under its year, nothing up to today.
    assert any(str(timezone.localtime(long_ago).year) in t for t in titles)
    assert not any(str(timezone.localtime(timezone.now()).year) in t for t in titles)
