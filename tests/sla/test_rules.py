"""The SLA rule matrix: the most specific rule wins, equal overlapping rules are refused naming
both, every kind keeps a fallback, an order keeps the rule version it started with, and the
admin shows the matrix and a "which rule would apply to…" tester."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from sla.engine import sla_sweep
from sla.models import Calendar, Clock, ClockKind, SlaEvent, SlaPolicy
from sla.selectors import clock_rule_text
from sla.services import sla_rule_retire, sla_rule_save
from tests.factories import CategoryFactory, report
from workorders.models import Ticket

from .conftest import fallback, set_rule

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
H = timedelta(hours=1)


def rule(**kw) -> SlaPolicy:
    kw.setdefault("kind", "promise")
    return sla_rule_save(rule=SlaPolicy(**kw))


def promise_of(ticket) -> Clock:
    return Clock.objects.get(ticket=ticket, kind=ClockKind.PROMISE, voided=False)


@pytest.fixture
def groups(cast):
    """A category group (network quality) with two categories in it."""
    group = CategoryFactory(name="网络质量", code="network_quality")
    signal = CategoryFactory(name="信号覆盖", code="signal_coverage", parent=group)
    broadband = CategoryFactory(name="家宽故障", code="home_broadband", parent=group)
    return group, signal, broadband


# --- precedence -----------------------------------------------------------------------------------


def test_the_most_specific_matching_rule_wins(cast):
    social = rule(urgency="general", channel="social", target_minutes=36 * 60)
    vip = rule(urgency="general", channel="social", tier="vip", target_minutes=16 * 60)
    cases = [
        ({"channel": "social", "star_level": 5}, vip, 16),  # key social complaint
        ({"channel": "social", "star_level": 3}, social, 36),  # ordinary social
        ({"channel": "social", "is_elderly": True}, social, 36),  # elderly is not VIP
        ({"channel": "hotline", "star_level": 5}, fallback("promise"), 48),  # not social
    ]
    for i, (fields, winner, hours) in enumerate(cases):
        t = report(cast, now=T0, phone=f"1390000000{i}", **fields)
        p = promise_of(t)
        assert (p.policy_id, p.due_at) == (winner.pk, T0 + hours * H), fields
    # Urgent social orders fall to the urgent fallback (4 h): the social rules name "general".
    t = report(cast, now=T0, channel="social", category=cast.urgent_category, phone="13900000009")
    assert promise_of(t).due_at == T0 + 4 * H


def test_a_category_beats_its_group_and_the_group_covers_its_other_categories(cast, groups):
    group, signal, broadband = groups
    by_group = rule(urgency="general", category_group=group, target_minutes=24 * 60)
    by_category = rule(urgency="general", category=signal, target_minutes=12 * 60)
    assert by_category.specificity > by_group.specificity
    assert promise_of(report(cast, now=T0, category=signal)).policy_id == by_category.pk
    t = report(cast, now=T0, category=broadband, phone="13900000001")
    assert promise_of(t).policy_id == by_group.pk
    # A clock started where the ticket's category was not loaded with it (the dispatch) finds
    # the group through the cached category tree.
    rule(kind="sign_for", category_group=group, urgency="general", target_minutes=60)
    t = Ticket.objects.get(pk=t.pk)
    from workorders import services

    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=T0 + H)
    sign = Clock.objects.get(ticket=t, kind=ClockKind.SIGN_FOR)
    assert sign.due_at == T0 + 2 * H


def test_the_order_page_says_which_rule_applies_and_why(cast):
    vip = rule(urgency="general", channel="social", tier="vip", target_minutes=16 * 60)
    t = report(cast, now=T0, channel="social", star_level=5)
    text = clock_rule_text(promise_of(t))
    assert f"规则 #{vip.pk} v1" in text
    assert "渠道: 社交媒体" in text and "客户: VIP(五星)" in text and "按自然时间计" in text
    dispatch = Clock.objects.get(ticket=t, kind=ClockKind.DISPATCH)
    assert "兜底规则" in clock_rule_text(dispatch)


# --- bad input ------------------------------------------------------------------------------------


def test_overlapping_rules_of_equal_specificity_are_refused_naming_both(cast):
    first = rule(urgency="general", channel="social", target_minutes=36 * 60)
    with pytest.raises(ValidationError) as exc:
        # As specific (two dimensions) and both match a general VIP order from social media.
        rule(urgency="general", tier="vip", target_minutes=20 * 60)
    message = " ".join(exc.value.messages)
    assert "渠道: 社交媒体" in message and "客户: VIP(五星)" in message
    assert f"#{first.pk}" in message
    # Disjoint rules of equal specificity are fine: they can never both match.
    rule(urgency="general", channel="app", target_minutes=30 * 60)


def test_a_rule_naming_only_a_channel_overlaps_the_urgency_fallbacks(cast):
    with pytest.raises(ValidationError) as exc:
        rule(channel="social", target_minutes=36 * 60)  # any urgency: as specific as a fallback
    assert "紧急程度: 一般" in " ".join(exc.value.messages)


def test_category_and_group_together_and_bad_thresholds_are_refused(cast, groups):
    group, signal, _ = groups
    with pytest.raises(ValidationError) as exc:
        rule(category=signal, category_group=group, target_minutes=60)
    assert "category_group" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        rule(category_group=signal, target_minutes=60)  # not a top-level category
    assert "category_group" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        rule(channel="app", urgency="urgent", target_minutes=60, remind_percent=90)
    assert "chase_percent" in exc.value.message_dict


def test_every_kind_and_urgency_keeps_a_fallback(cast):
    with pytest.raises(ValidationError) as exc:
        sla_rule_retire(rule=fallback("promise"))
    assert "承诺时限 · 一般" in " ".join(exc.value.messages)
    with pytest.raises(ValidationError):
        set_rule("promise", channel="social")  # would stop being the fallback
    # With a fallback for any urgency in place, the general one may go: orders fall to it.
    anything = rule(target_minutes=50 * 60)
    sla_rule_retire(rule=fallback("promise"))
    assert promise_of(report(cast, now=T0)).policy_id == anything.pk


# --- versions -------------------------------------------------------------------------------------


def test_an_order_keeps_the_rule_version_it_started_with(cast):
    old = report(cast, now=T0)
    v1 = fallback("promise")
    v2 = set_rule("promise", target_minutes=24 * 60)
    assert (v2.lineage, v2.version, v2.active) == (v1.lineage, 2, True)
    v1.refresh_from_db()
    assert (v1.active, v1.target_minutes) == (False, 48 * 60)
    new = report(cast, now=T0, phone="13900000001")
    assert (promise_of(old).policy_id, promise_of(old).due_at) == (v1.pk, T0 + 48 * H)
    assert (promise_of(new).policy_id, promise_of(new).due_at) == (v2.pk, T0 + 24 * H)
    # The sweep keeps each clock's own thresholds: at 12 h only the new order is reminded.
    sla_sweep(now=T0 + 12 * H)
    assert SlaEvent.objects.filter(clock=promise_of(old)).count() == 0
    assert SlaEvent.objects.filter(clock=promise_of(new)).count() == 1
    assert "已有新版本" in clock_rule_text(promise_of(old))
    # A retired version cannot be edited.
    v1.target_minutes = 1
    with pytest.raises(ValidationError):
        sla_rule_save(rule=v1)


def test_saving_an_unchanged_rule_makes_no_new_version(cast):
    v1 = fallback("promise")
    assert sla_rule_save(rule=fallback("promise")).pk == v1.pk
    assert SlaPolicy.objects.filter(lineage=v1.lineage).count() == 1


def test_starting_clocks_reads_rules_and_calendars_once_per_process(cast, office):
    set_rule("promise", calendar=office)
    report(cast, now=T0)  # reads the rules and the calendar into the process's copy
    with CaptureQueriesContext(connection) as ctx:
        report(cast, now=T0, phone="13900000001", channel="social")
    tables = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "sla_slapolicy" not in tables and "sla_calendar" not in tables


def test_a_rolled_back_rule_edit_is_never_used(cast):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        rule(urgency="general", channel="social", target_minutes=60)
        assert promise_of(report(cast, now=T0, channel="social")).due_at == T0 + H
        raise RuntimeError("the admin request failed after saving")
    t = report(cast, now=T0, channel="social", phone="13900000001")
    assert promise_of(t).due_at == T0 + 48 * H


# --- admin: the matrix and the tester -------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")


def test_the_matrix_lists_the_rules_in_force_most_specific_first(cast, superuser, client):
    vip = rule(urgency="general", channel="social", tier="vip", target_minutes=16 * 60)
    set_rule("visit", target_minutes=20 * 60)  # leaves a retired version behind
    client.force_login(superuser)
    url = reverse("admin:sla_slapolicy_changelist")
    page = client.get(url)
    assert page.status_code == 200
    rows = list(page.context["cl"].result_list)
    assert vip in rows and all(r.active for r in rows)
    promise_rows = [r for r in rows if r.kind == "promise"]
    assert promise_rows[0] == vip  # most specific first
    body = page.content.decode()
    assert "社交媒体" in body and "哪条规则适用？" in body
    retired = client.get(url, {"state": "retired"}).context["cl"].result_list
    assert [r.kind for r in retired] == ["visit"]


def test_the_tester_shows_the_winner_and_why_the_others_lost(cast, superuser, client, office):
    social = rule(urgency="general", channel="social", target_minutes=36 * 60, calendar=office)
    vip = rule(urgency="general", channel="social", tier="vip", target_minutes=16 * 60)
    client.force_login(superuser)
    url = reverse("admin:sla_slapolicy_tester")
    page = client.get(
        url, {"kind": "promise", "urgency": "general", "channel": "social", "tier": ""}
    )
    assert page.status_code == 200
    result = page.context["result"]
    assert result["winner"] == social
    verdicts = {row["rule"].pk: row["verdict"] for row in result["rows"]}
    assert verdicts[vip.pk] == "不适用：客户等级不同"
    assert verdicts[social.pk] == "采用：最具体的匹配规则"
    assert verdicts[fallback("promise").pk] == "也匹配，但不如采用的规则具体"
    assert "紧急程度不同" in verdicts[fallback("promise", "urgent").pk]
    assert result["calendar"].name == "机关 5×8"
    assert "机关 5×8" in page.content.decode()


def test_the_tester_is_for_superusers_only(cast, client):
    client.force_login(cast.dispatcher)
    assert client.get(reverse("admin:sla_slapolicy_tester")).status_code == 403


def test_the_admin_refuses_an_overlapping_rule_on_the_form_naming_both(cast, superuser, client):
    first = rule(urgency="general", channel="social", target_minutes=36 * 60)
    client.force_login(superuser)
    data = {
        "kind": "promise",
        "urgency": "general",
        "channel": "",
        "tier": "vip",
        "target_minutes": 600,
        "remind_percent": 50,
        "chase_percent": 80,
        "escalate_every_percent": 50,
    }
    page = client.post(reverse("admin:sla_slapolicy_add"), data)
    assert page.status_code == 200  # the form again, with what was entered
    body = page.content.decode()
    assert f"#{first.pk}" in body and "同样具体" in body
    assert page.context["adminform"].form["target_minutes"].value() == "600"
    assert not SlaPolicy.objects.filter(tier="vip").exists()


def test_a_calendar_with_no_working_time_is_refused(cast, superuser, client):
    client.force_login(superuser)
    data = {
        "code": "empty",
        "name": "无",
        "days-TOTAL_FORMS": "0",
        "days-INITIAL_FORMS": "0",
        "departments-TOTAL_FORMS": "0",
        "departments-INITIAL_FORMS": "0",
    }
    page = client.post(reverse("admin:sla_calendar_add"), data)
    assert page.status_code == 200
    assert "日历没有任何工作时间" in page.content.decode()
    assert not Calendar.objects.filter(code="empty").exists()
    data["hours_mon"] = "9点到5点"
    page = client.post(reverse("admin:sla_calendar_add"), data)
    assert "无法识别的工作时间" in page.content.decode()
    data["hours_mon"] = "09:00-17:00"
    assert client.post(reverse("admin:sla_calendar_add"), data).status_code == 302
    assert Calendar.objects.filter(code="empty").exists()


def test_a_rule_text_follows_the_language_and_a_new_version_of_the_rule(cast):
    from django.utils import translation

    t = report(cast, now=T0)
    before = clock_rule_text(promise_of(t))
    assert "已有新版本" not in before
    assert clock_rule_text(promise_of(t)) == before  # read again: the same text
    with translation.override("en"):
        english = clock_rule_text(promise_of(t))
    assert english != before and "Rule #" in english
    set_rule("promise", target_minutes=24 * 60)  # the order's rule version is retired
    assert "已有新版本" in clock_rule_text(promise_of(t))
