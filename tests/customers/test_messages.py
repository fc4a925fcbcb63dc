"""What the customer is told, when: one text per event (file backend), the status link in each,
quiet hours, the daily cap, coalescing, fixed lines and opt-outs."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from notifications.models import DeliveryStatus, SmsDailyCount, SmsEvent, SmsOptOut
from tests.factories import report
from tests.notifications.sms_helpers import deliver, sent_lines, sms_rows
from workorders import services

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # a Monday, long before the machine's clock


@pytest.fixture(autouse=True)
def _sms(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = tmp_path / "sms"
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    settings.SMS_QUIET_URGENT_EXEMPT = True
    settings.SMS_DAILY_CAP = 6
    settings.SMS_COALESCE_SECONDS = 60
    settings.PUBLIC_BASE_URL = "https://whistle.example.com"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_each_event_sends_exactly_one_text_with_the_status_link(cast, settings):
    settings.SMS_DAILY_CAP = 10  # seven events in one morning: more than the default cap
    t = MORNING
    ticket = report(cast, now=t)
    deliver(t + minutes(2))
    services.ticket_dispatch(
        ticket=ticket, by=cast.dispatcher, department=cast.network, now=t + minutes(5)
    )
    deliver(t + minutes(7))
    services.ticket_claim(ticket=ticket, by=cast.lead, handler=cast.handler, now=t + minutes(10))
    deliver(t + minutes(12))  # claiming is not news for the customer
    services.ticket_suspend(
        ticket=ticket,
        by=cast.lead,
        reason="appointment",
        until=t + timedelta(hours=5),
        now=t + minutes(15),
    )
    deliver(t + minutes(17))
    services.ticket_resume(ticket=ticket, by=cast.handler, now=t + minutes(20))
    deliver(t + minutes(22))
    ext = services.ticket_request_extension(
        ticket=ticket, by=cast.handler, hours=24, reason="需要更换线路", now=t + minutes(25)
    )
    services.ticket_decide_extension(request=ext, by=cast.lead, approve=True, now=t + minutes(26))
    deliver(t + minutes(28))
    services.ticket_reply(
        ticket=ticket,
        by=cast.handler,
        result="更换光猫（内部记录）",
        public_reply="已为您更换光猫，网络恢复正常",
        cause="network",
        resolved=True,
        now=t + minutes(30),
    )
    deliver(t + minutes(32))
    services.ticket_close(
        ticket=ticket,
        by=cast.dispatcher,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
        now=t + minutes(35),
    )
    deliver(t + minutes(37))

    lines = sent_lines()
    events = [row.kind for row in sms_rows()]
    assert events == [
        "accepted",
        "dispatched",
        "suspended",
        "resumed",
        "extended",
        "replied",
        "closed",
    ]
    assert len(lines) == 7
    assert [r.status for r in sms_rows()] == [DeliveryStatus.SENT] * 7
    assert {line["to"] for line in lines} == {"13800138000"}
    assert len({line["idempotency_key"] for line in lines}) == 7
    for line in lines:
        assert line["text"].startswith("【吹哨服务】")
        assert "https://whistle.example.com/s/" in line["text"]  # the status link, every time
        assert line["template_code"].startswith("WS_")
        assert line["segments"] >= 1
    accepted, dispatched, suspended, _resumed, extended, replied, _closed = (
        line["text"] for line in lines
    )
    assert ticket.number in accepted and "宽带故障" in accepted and "3月4日" in accepted
    assert "已转网络保障处理" in dispatched  # the line's name, never a person's
    for person in (cast.lead, cast.handler, cast.dispatcher):
        assert person.username not in dispatched
    assert "客户预约上门时间" in suspended and "3月2日 14:00" in suspended
    assert "经审批延期" in extended
    assert "已为您更换光猫，网络恢复正常" in replied and "#survey" in replied
    assert "内部记录" not in replied
    assert lines[5]["params"]["reply"] == "已为您更换光猫，网络恢复正常"


def test_the_segment_count_is_kept_on_the_row(cast):
    ticket = report(cast, now=MORNING)
    deliver(MORNING + minutes(2))
    row = sms_rows(ticket=ticket).get()
    text = row.payload["text"]
    assert len(text) > 70  # the link makes the accepted text two parts
    assert row.segments == sent_lines()[0]["segments"] == -(-len(text) // 67)


def test_transitions_within_a_minute_are_coalesced_into_one_text(cast):
    t = MORNING
    ticket = report(cast, now=t)
    services.ticket_dispatch(
        ticket=ticket, by=cast.dispatcher, department=cast.network, now=t + timedelta(seconds=20)
    )
    services.ticket_redispatch(
        ticket=ticket,
        by=cast.dispatcher,
        department=cast.business,
        reason="属业务问题",
        now=t + timedelta(seconds=40),
    )
    assert deliver(t + timedelta(seconds=50)).sent == 0  # still waiting for more
    deliver(t + minutes(2))
    rows = list(sms_rows(ticket=ticket))
    assert len(rows) == 1 and len(sent_lines()) == 1
    assert rows[0].kind == SmsEvent.DISPATCHED
    assert rows[0].payload["coalesced"] == ["accepted", "dispatched"]
    assert "业务管理" in sent_lines()[0]["text"]  # the latest state: the business line


def test_an_event_after_the_text_was_sent_gets_its_own_text(cast):
    t = MORNING
    ticket = report(cast, now=t)
    deliver(t + minutes(1.5))
    services.ticket_dispatch(
        ticket=ticket, by=cast.dispatcher, department=cast.network, now=t + minutes(1.6)
    )
    deliver(t + minutes(3))
    assert [r.kind for r in sms_rows(ticket=ticket)] == ["accepted", "dispatched"]
    assert len(sent_lines()) == 2


def test_a_text_already_tried_is_not_rewritten(cast, settings):
    """A text the gateway refused for now (being retried) keeps its words: its key was sent."""
    settings.SMS_BACKEND = "tests.customers.test_messages.RefusingBackend"
    t = MORNING
    ticket = report(cast, now=t)
    deliver(t + minutes(1.5))
    first = sms_rows(ticket=ticket).get()
    assert first.attempts == 1 and first.status == DeliveryStatus.PENDING
    services.ticket_dispatch(
        ticket=ticket, by=cast.dispatcher, department=cast.network, now=t + minutes(1.6)
    )
    rows = list(sms_rows(ticket=ticket))
    assert [r.kind for r in rows] == ["accepted", "dispatched"]


class RefusingBackend:
    def send(self, message):
        from notifications.sms import SmsError

        raise SmsError("HTTP 503", code=503, temporary=True)


def test_quiet_hours_hold_texts_until_morning(cast):
    night = datetime(2026, 3, 2, 22, 30, tzinfo=TZ)
    report(cast, now=night)
    result = deliver(night + minutes(2))
    assert result.deferred == 1 and sent_lines() == []
    row = sms_rows().get()
    assert row.next_attempt_at == datetime(2026, 3, 3, 8, 0, tzinfo=TZ)
    assert row.attempts == 0  # a deferral is not an attempt
    assert deliver(datetime(2026, 3, 3, 7, 59, tzinfo=TZ)).claimed == 0
    deliver(datetime(2026, 3, 3, 8, 0, tzinfo=TZ))
    assert len(sent_lines()) == 1


def test_urgent_orders_are_exempt_from_quiet_hours_unless_configured(cast, settings):
    night = datetime(2026, 3, 2, 23, 0, tzinfo=TZ)
    report(cast, now=night, category=cast.urgent_category, phone="13900000001")
    deliver(night + minutes(2))
    assert len(sent_lines()) == 1
    settings.SMS_QUIET_URGENT_EXEMPT = False
    report(cast, now=night + minutes(5), category=cast.urgent_category, phone="13900000002")
    assert deliver(night + minutes(7)).deferred == 1
    assert len(sent_lines()) == 1


def test_texts_held_overnight_for_one_order_go_out_as_one(cast):
    night = datetime(2026, 3, 2, 22, 0, tzinfo=TZ)
    ticket = report(cast, now=night)
    deliver(night + minutes(2))  # held until 08:00
    services.ticket_dispatch(
        ticket=ticket, by=cast.dispatcher, department=cast.network, now=night + minutes(30)
    )
    deliver(datetime(2026, 3, 3, 8, 0, tzinfo=TZ))
    assert [line["template_code"] for line in sent_lines()] == ["WS_DISPATCHED"]


def test_the_daily_cap_skips_texts_beyond_it(cast, settings):
    settings.SMS_DAILY_CAP = 2
    t = MORNING
    for i in range(3):
        report(cast, now=t + minutes(10 * i), description=f"第{i}次反映宽带掉线")
        deliver(t + minutes(10 * i + 2))
    rows = list(sms_rows())
    assert [r.status for r in rows] == ["sent", "sent", "skipped"]
    assert "每日上限" in rows[2].last_error
    assert len(sent_lines()) == 2
    # The next local day has room again.
    report(cast, now=datetime(2026, 3, 3, 9, 0, tzinfo=TZ), description="又掉线了")
    deliver(datetime(2026, 3, 3, 9, 2, tzinfo=TZ))
    assert len(sent_lines()) == 3


def test_the_cap_counts_per_number(cast, settings):
    settings.SMS_DAILY_CAP = 1
    report(cast, now=MORNING, phone="13900000001")
    report(cast, now=MORNING, phone="13900000002")
    deliver(MORNING + minutes(2))
    assert len(sent_lines()) == 2


def test_a_refused_text_gives_its_place_under_the_cap_back(cast, settings):
    settings.SMS_DAILY_CAP = 1
    settings.SMS_BACKEND = "tests.customers.test_messages.RefusingBackend"
    report(cast, now=MORNING)
    deliver(MORNING + minutes(2))
    assert SmsDailyCount.objects.get(phone="13800138000").sent == 0
    settings.SMS_BACKEND = "file"
    deliver(MORNING + minutes(30))  # the retry (after the backoff) is within the cap
    assert sms_rows().get().status == DeliveryStatus.SENT


def test_fixed_lines_get_no_text(cast):
    report(cast, now=MORNING, phone="0571-87654321")
    deliver(MORNING + minutes(2))
    assert not sms_rows().exists() and sent_lines() == []


def test_numbers_that_opted_out_get_no_text(cast):
    SmsOptOut.objects.create(phone="13800138000", at=MORNING, source="sms:TD")
    report(cast, now=MORNING)
    deliver(MORNING + minutes(2))
    assert not sms_rows().exists() and sent_lines() == []


def test_an_opt_out_while_a_text_waits_skips_it(cast):
    report(cast, now=MORNING)
    SmsOptOut.objects.create(phone="13800138000", at=MORNING, source="sms:TD")
    deliver(MORNING + minutes(2))
    row = sms_rows().get()
    assert row.status == "skipped" and "退订" in row.last_error
    assert sent_lines() == []


def test_a_cleared_opt_out_lets_texts_through_again(cast):
    opt = SmsOptOut.objects.create(phone="13800138000", at=MORNING, source="sms:TD")
    from notifications.sms_channel import sms_opt_out_clear

    sms_opt_out_clear(opt_out=opt, by=cast.dispatcher, now=MORNING)
    report(cast, now=MORNING + minutes(1))
    deliver(MORNING + minutes(3))
    assert len(sent_lines()) == 1


def test_auto_dispatch_on_report_tells_the_customer_once(cast):
    cast.category.default_department = cast.network
    cast.category.auto_dispatch = True
    cast.category.save()
    ticket = report(cast, now=MORNING)
    assert ticket.state == "dispatched"
    deliver(MORNING + minutes(2))
    assert [line["template_code"] for line in sent_lines()] == ["WS_DISPATCHED"]
    assert ticket.number in sent_lines()[0]["text"]


def test_nothing_is_written_when_the_change_rolls_back(cast):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        report(cast, now=MORNING)
        raise RuntimeError("the change fails after the event")
    assert not sms_rows().exists()


def test_the_sweeps_auto_resume_tells_the_customer(cast):
    from sla.engine import sla_sweep
    from tests.factories import ticket_in_state

    ticket = ticket_in_state(cast, "suspended", now=MORNING)
    deliver(MORNING + minutes(30))
    before = len(sent_lines())
    with time_machine.travel(MORNING + timedelta(hours=6), tick=False):
        sla_sweep(now=MORNING + timedelta(hours=6))
    deliver(MORNING + timedelta(hours=6, minutes=2))
    ticket.refresh_from_db()
    assert ticket.state == "accepted"
    assert [line["template_code"] for line in sent_lines()[before:]] == ["WS_RESUMED"]


def test_seed_demo_leaves_customers_who_have_received_texts(db, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    from workorders import demo

    monkeypatch.setattr(demo, "PLAN", [(state, 2) for state, _n in demo.PLAN])
    out = StringIO()
    call_command("seed_demo", stdout=out)
    sent = sms_rows(status=DeliveryStatus.SENT)
    lines = sent_lines()
    assert sent.count() == len(lines) > 0
    assert {line["idempotency_key"] for line in lines} == set(sent.values_list("key", flat=True))
    assert len({row.ticket_id for row in sent}) > 5  # many demo customers heard from us
    assert "Texts to the demo orders' customers" in out.getvalue()
    call_command("seed_demo", stdout=StringIO())  # again: nothing sent twice
    assert len(sent_lines()) == len(lines)


def test_the_caps_counts_of_past_days_are_pruned(cast):
    from notifications.sms_channel import sms_counts_prune

    report(cast, now=MORNING)
    deliver(MORNING + minutes(2))
    assert SmsDailyCount.objects.count() == 1
    assert sms_counts_prune(now=MORNING + timedelta(days=1)) == 0  # yesterday's is kept
    assert sms_counts_prune(now=MORNING + timedelta(days=2)) == 1
    assert not SmsDailyCount.objects.exists()
