"""The daily digest (issue 16): once a day, each back-office user gets one notification (and its
e-mail, through the outbox) with their queues now and what happened in their scope over the last
24 hours: everything that no longer notifies them at once (`notifications.services`,
`notifications.audience`). Run once at a time (`jobs.locks.run_once`); a second run the same day
writes nothing (one key per user and day)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from jobs.locks import run_once
from sla.models import EventKind, SlaEvent, SlaStatus
from sla.selectors import sla_status_q
from workorders.models import (
    OPEN_STATES,
    ExtensionRequest,
    RequestStatus,
    State,
    SuspensionRequest,
)
from workorders.permissions import sees_all_tickets
from workorders.selectors import tickets_visible_to

from .messages import digest_text, in_every_language
from .models import Notification, NotificationKind
from .services import Note, notifications_create

JOB = "notifications.digest"
DIGEST_ROLES = (Role.DISPATCHER, Role.LEAD, Role.HANDLER, Role.SUPERVISOR)


def digest_key(user, day) -> str:
    return f"digest:{day.isoformat()}:u{user.pk}"


def _scope(user):
    """The orders the digest speaks of: all for see-all roles, else the user's department's
    (and, for a handler, those he handles)."""
    qs = tickets_visible_to(user)
    if sees_all_tickets(user):
        return qs
    cond = Q(pk__in=[])
    if user.department_id:
        cond |= Q(department__path__startswith=user.department.path)
    if Role.HANDLER in user.roles:
        cond |= Q(handler=user)
    return qs.filter(cond)


def _pending_approval() -> Q:
    pending = {"ticket": OuterRef("pk"), "status": RequestStatus.PENDING}
    return Q(Exists(ExtensionRequest.objects.filter(**pending))) | Q(
        Exists(SuspensionRequest.objects.filter(**pending))
    )


def digest_queues(user, now: datetime) -> list[tuple[str, int]]:
    """The user's queues now, by role (the back office's presets say the same)."""
    open_ = _scope(user).filter(state__in=OPEN_STATES)
    breached = sla_status_q(SlaStatus.BREACHED, now)
    rows: dict[str, tuple[object, Q]] = {}
    roles = user.roles
    if Role.DISPATCHER in roles:
        rows["to_dispatch"] = (_("待派单"), Q(state=State.REPORTED))
        rows["return_requested"] = (_("退单待裁定"), Q(state=State.RETURN_REQUESTED))
        rows["replied"] = (_("已回复待回访"), Q(state=State.REPLIED))
    if Role.LEAD in roles:
        rows["to_claim"] = (_("待签收"), Q(state=State.DISPATCHED))
        rows["breached"] = (_("已超时"), breached)
        rows["my_approval"] = (_("待我审批"), _pending_approval())
    if Role.HANDLER in roles:
        rows["mine"] = (_("我处理中的"), Q(handler=user))
        rows["mine_breached"] = (_("我的已超时"), Q(handler=user) & breached)
    if Role.SUPERVISOR in roles:
        rows["breached"] = (_("已超时"), breached)
        rows["escalated"] = (_("已升级"), Q(escalation_level__gt=0))
        rows["high_risk"] = (_("高风险"), Q(risk_score__gte=settings.RISK_ALERT_THRESHOLD))
    return [(label, open_.filter(cond).count()) for label, cond in rows.values()]


def digest_past(user, now: datetime) -> list[tuple[str, int]]:
    """The last 24 hours in the user's scope."""
    since = now - timedelta(hours=24)
    scope = _scope(user)
    breaches = SlaEvent.objects.filter(
        kind=EventKind.SUPERVISE, recorded_at__gte=since, recorded_at__lt=now, late=False
    ).filter(ticket__in=scope.values("pk"))
    return [
        (_("新工单"), scope.filter(reported_at__gte=since, reported_at__lt=now).count()),
        (_("新超时"), breaches.count()),
        (_("已办结"), scope.filter(closed_at__gte=since, closed_at__lt=now).count()),
    ]


def _recipients() -> list[User]:
    return list(
        User.objects.filter(groups__name__in=DIGEST_ROLES, is_active=True)
        .select_related("department")
        .distinct()
        .order_by("id")
    )


def notification_digest_send(*, now: datetime | None = None) -> int:
    """Write today's digest for every back-office user who has something in it; returns how
    many were written (0 when another run holds the job or today's were written already)."""
    now = now or timezone.now()
    with run_once(JOB, lease=timedelta(minutes=30)) as mine:
        if not mine:
            return 0
        return _send(now)


def _send(now: datetime) -> int:
    day = timezone.localdate(now)
    users = _recipients()
    done = set(
        Notification.objects.filter(key__in=[digest_key(u, day) for u in users]).values_list(
            "key", flat=True
        )
    )
    notes = []
    for user in users:
        key = digest_key(user, day)
        if key in done:
            continue
        queues = digest_queues(user, now)
        past = digest_past(user, now)
        if not any(n for _label, n in queues + past):
            continue  # nothing to tell: no notification
        texts = in_every_language(
            lambda q=queues, p=past: digest_text(day=day.isoformat(), queues=q, past=p)
        )
        notes.append(Note(user, None, NotificationKind.OTHER, key, texts))
    notifications_create(notes=notes, now=now)
    return len(notes)


def seed_demo_history_read(*, users=None, now: datetime) -> list[str]:
    """Demo step (`manage.py seed_demo`, last): the demo writes months of history through the
    services in one go, and every step of it notified someone. What is older than a day is
    history, not news: marked read, so a first login shows today's few, as in real use."""
    n = Notification.objects.filter(
        read_at__isnull=True, created_at__lt=now - timedelta(hours=24)
    ).update(read_at=now)
    return [f"Demo notifications older than a day marked read: {n}"]
