"""Issue 16's notification policy: staff are told at once only of what needs them or changes
their order; everything else is in a once-daily digest."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.locks import run_once
from notifications.digest import JOB, digest_key, notification_digest_send
from notifications.models import Notification
from tests.conftest import requires_postgres
from tests.factories import report, ticket_in_state, user_with
from workorders import services
from workorders.models import State

pytestmark = pytest.mark.django_db


def told(ticket, since_id=0) -> set[str]:
    return set(
        Notification.objects.filter(ticket=ticket, pk__gt=since_id).values_list(
            "recipient__username", flat=True
        )
    )


def last_id() -> int:
    return Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_dispatch_tells_the_departments_leads_and_the_reporter_only(cast):
    t = report(cast)
    mark = last_id()
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network)
    assert told(t, mark) == {"t_lead", "t_front"}
    n = Notification.objects.get(ticket=t, recipient=cast.lead)
    assert "派往本部门" in n.title and "请签收" in n.body


def test_a_refused_return_tells_the_department_it_is_still_theirs(cast):
    t = ticket_in_state(cast, State.RETURN_REQUESTED)
    mark = last_id()
    services.ticket_rule_return(ticket=t, by=cast.dispatcher, uphold=False, comment="属于本部门")
    assert told(t, mark) >= {"t_lead"}
    n = Notification.objects.get(ticket=t, recipient=cast.lead, pk__gt=mark)
    assert "退单未成立" in n.title


def test_claiming_for_a_handler_tells_him_and_not_the_lead_who_did_it(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    mark = last_id()
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler)
    assert told(t, mark) == {"t_handler"}


def test_assigning_tells_the_new_handler(cast):
    other = user_with("handler", department=cast.network, username="t_handler2")
    t = ticket_in_state(cast, State.ACCEPTED)
    mark = last_id()
    services.ticket_assign(ticket=t, by=cast.lead, handler=other)
    assert told(t, mark) == {"t_handler2"}
    assert "指派给您" in Notification.objects.get(ticket=t, pk__gt=mark).title


def test_rejected_reply_and_redo_tell_the_handler_and_the_leads(cast):
    t = ticket_in_state(cast, State.REPLIED)
    mark = last_id()
    services.ticket_reject_reply(ticket=t, by=cast.dispatcher, reason="未解决")
    assert told(t, mark) == {"t_handler", "t_lead"}


def test_supervision_by_a_supervisor_tells_the_orders_handler_and_leads(cast):
    t = ticket_in_state(cast, State.ACCEPTED)
    mark = last_id()
    services.ticket_supervise(ticket=t, by=cast.supervisor, note="今天必须答复客户")
    assert told(t, mark) == {"t_handler", "t_lead"}
    n = Notification.objects.get(ticket=t, recipient=cast.handler, pk__gt=mark)
    assert n.kind == "supervise" and "今天必须答复客户" in n.body


def test_a_proposed_redo_tells_the_supervisors_who_confirm_it_and_the_handler(cast):
    t = ticket_in_state(cast, State.REPLIED)
    mark = last_id()
    services.ticket_propose_redo(ticket=t, by=cast.dispatcher, reason="客户不满意")
    assert told(t, mark) == {"t_sup", "t_handler"}


@pytest.mark.parametrize(
    ("state", "act"),
    [
        # A return request waits in the dispatchers' 退单待裁定 queue and their digest.
        (
            State.DISPATCHED,
            lambda c, t: services.ticket_request_return(ticket=t, by=c.lead, reason="非本部门"),
        ),
        # A comment changes nobody's work.
        (
            State.ACCEPTED,
            lambda c, t: services.ticket_comment(ticket=t, by=c.dispatcher, body="已联系客户"),
        ),
    ],
    ids=["request_return", "comment"],
)
def test_what_needs_no_one_now_notifies_no_staff(cast, state, act):
    t = ticket_in_state(cast, state)
    mark = last_id()
    act(cast, t)
    assert told(t, mark) - {"t_front"} == set()


def test_the_fresh_supervisors_inbox_holds_only_what_needs_them(cast):
    # A busy day without escalations: dispatches, claims, replies, closes.
    for state in (State.DISPATCHED, State.ACCEPTED, State.REPLIED, State.CLOSED):
        ticket_in_state(cast, state)
    assert not Notification.objects.filter(recipient=cast.supervisor).exists()
    assert not Notification.objects.filter(recipient=cast.dispatcher).exists()


# --------------------------------------------------------------------------- digest


def digest_of(user):
    return Notification.objects.get(recipient=user, key__startswith="digest:")


def test_digest_tells_each_role_its_queues_and_the_last_day(cast):
    now = timezone.now()
    report(cast, phone="13900000001")
    report(cast, phone="13900000002")
    ticket_in_state(cast, State.DISPATCHED)
    ticket_in_state(cast, State.ACCEPTED, now=now - timedelta(hours=60))  # breached
    closed = ticket_in_state(cast, State.CLOSED, now=now - timedelta(hours=2))
    written = notification_digest_send(now=now + timedelta(minutes=5))
    dispatcher = digest_of(cast.dispatcher)
    assert dispatcher.ticket_id is None and dispatcher.title.startswith("每日汇总")
    assert "待派单：2" in dispatcher.body
    assert "新工单：" in dispatcher.body and "已办结：1" in dispatcher.body
    lead = digest_of(cast.lead)
    assert "待签收：1" in lead.body and "已超时：1" in lead.body
    supervisor = digest_of(cast.supervisor)
    assert "已超时：1" in supervisor.body and "待派单" not in supervisor.body
    # Scoped: the business line's lead has nothing of the network line's orders.
    assert not Notification.objects.filter(recipient=cast.other_lead, key__startswith="digest:")
    assert closed.state == State.CLOSED
    assert written == Notification.objects.filter(key__startswith="digest:").count()
    # In English too, for an English reader.
    assert "Daily digest" in dispatcher.texts["en"][0]


def test_digest_runs_once_a_day_even_if_triggered_twice(cast):
    report(cast)
    now = timezone.now()
    first = notification_digest_send(now=now)
    assert first > 0
    assert notification_digest_send(now=now + timedelta(minutes=1)) == 0
    assert Notification.objects.filter(key__startswith="digest:").count() == first
    assert Notification.objects.filter(key=digest_key(cast.dispatcher, timezone.localdate(now)))


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the PostgreSQL variant below")
def test_a_digest_run_while_another_holds_the_job_does_nothing(cast):
    report(cast)
    with run_once(JOB, lease=timedelta(minutes=30)) as mine:
        assert mine
        assert notification_digest_send() == 0
    assert not Notification.objects.filter(key__startswith="digest:").exists()
    assert notification_digest_send() > 0


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_digest_workers_at_once_write_each_digest_once(cast):
    """Two workers (two database sessions) triggered together: one writes, the other finds the
    job taken; then a third run the same day finds today's digests written."""
    report(cast)
    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            barrier.wait(timeout=30)
            results.append(notification_digest_send())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    written = Notification.objects.filter(key__startswith="digest:").count()
    assert written > 0 and sorted(results)[-1] == written
    assert notification_digest_send() == 0
    assert Notification.objects.filter(key__startswith="digest:").count() == written


def test_digest_task_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-digest"]
    assert entry["task"] == "notifications.tasks.notification_digest_task"
    from notifications.tasks import notification_digest_task

    assert notification_digest_task.name == entry["task"]


def test_demo_history_older_than_a_day_is_read_today_stays_unread(cast):
    from notifications.digest import seed_demo_history_read

    now = timezone.now()
    old = ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(days=3))
    new = ticket_in_state(cast, State.DISPATCHED, now=now - timedelta(hours=2))
    seed_demo_history_read(now=now)
    unread = Notification.objects.filter(recipient=cast.lead, read_at=None)
    assert set(unread.values_list("ticket_id", flat=True)) == {new.pk}
    assert Notification.objects.filter(recipient=cast.lead, ticket=old).exclude(read_at=None)
