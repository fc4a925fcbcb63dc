"""Who hears about a fault (listener of `faults.events.FAULT`, subscribed in `apps.py`).

- `detect`: the dispatchers and the leads of the category's department (in-app and e-mail).
- `confirm`: the leads of the fault's department.
- every audit row: one webhook event of kind `fault` (`fault.detect`, `fault.link`, …),
  keyed by the audit row, so a retried transaction or task never posts it twice."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.roles import Role
from notifications.audience import Audience
from notifications.messages import in_every_language
from notifications.models import NotificationKind
from notifications.services import Event, Note, notifications_create, webhooks_create

from .models import Fault, FaultAudit


def fault_payload(fault: Fault) -> dict:
    """What a webhook receiver learns about a fault (no customer data)."""
    return {
        "id": fault.pk,
        "number": fault.number,
        "state": fault.state,
        "category": fault.category.code,
        "region": fault.region,
        "center": (
            [float(fault.center_lat), float(fault.center_lng)]
            if fault.center_lat is not None
            else None
        ),
        "radius_m": fault.radius_m,
        "department": fault.department.code if fault.department_id else None,
        "orders": fault.order_count,
        "eta": fault.eta.isoformat() if fault.eta else None,
        "version": fault.version,
    }


def _text(fault: Fault, transition: str) -> tuple[str, str] | None:
    from django.utils.translation import gettext as _

    area = fault.area_display or "—"
    if transition == "detect":
        return (
            _("疑似群障 %(number)s") % {"number": fault.number},
            _("%(category)s：%(area)s 两小时内已有 %(n)d 张工单，请核实是否为群障。")
            % {"category": fault.category, "area": area, "n": fault.order_count},
        )
    if transition == "confirm":
        return (
            _("群障 %(number)s 已确认") % {"number": fault.number},
            _(
                "%(category)s：%(area)s，关联工单 %(n)d 张已派往本部门，"
                "请尽快处理并设置预计恢复时间。"
            )
            % {"category": fault.category, "area": area, "n": fault.order_count},
        )
    return None


def notify_fault(*, fault: Fault, audit: FaultAudit, now: datetime | None = None) -> None:
    notify_faults(items=[(fault, audit)], now=now)


def notify_faults(*, items: list[tuple[Fault, FaultAudit]], now: datetime | None = None) -> None:
    """Webhooks for every audit row and the in-app notices, in one write each however many
    rows (detection announces all its new faults at once)."""
    now = now or timezone.now()
    webhooks_create(
        events=[
            Event(
                key=f"fault-audit:{audit.pk}",
                kind=NotificationKind.FAULT,
                ticket_id=None,
                payload={
                    "event": f"fault.{audit.transition}",
                    "key": f"fault-audit:{audit.pk}",
                    "at": now.isoformat(),
                    "actor": audit.actor.username if audit.actor_id else None,
                    "data": audit.data,
                    "fault": fault_payload(fault),
                },
            )
            for fault, audit in items
        ],
        now=now,
    )
    audience = Audience()
    notes = []
    for fault, audit in items:
        if audit.transition == "detect":
            users = [*audience.with_role(Role.DISPATCHER), *audience.leads_of(fault.department_id)]
        elif audit.transition == "confirm":
            users = audience.leads_of(fault.department_id)
        else:
            continue
        seen, recipients = set(), []
        for user in users:
            if user.pk not in seen and (audit.actor_id is None or user.pk != audit.actor_id):
                seen.add(user.pk)
                recipients.append(user)
        if not recipients:
            continue
        texts = in_every_language(lambda f=fault, a=audit: _text(f, a.transition))
        if texts is None:
            continue
        notes += [
            Note(user, None, NotificationKind.FAULT, f"fault-audit:{audit.pk}:u{user.pk}", texts)
            for user in recipients
        ]
    notifications_create(notes=notes, now=now)


def tell_customers_eta(*, fault, eta_version: int, notices, now, **_kw) -> None:
    """Each new notice (one per linked order and ETA version) becomes that customer's text,
    written in the change's transaction; the version is in the text's key, so a notice
    written twice is sent once."""
    from customers.messaging import tell_fault_eta

    from .services import fault_customer_text

    for notice in notices:
        tell_fault_eta(
            ticket=notice.ticket,
            text=notice.message or fault_customer_text(fault=fault, eta=notice.eta),
            ref=f"qz{fault.pk}v{eta_version}",
            now=now,
        )
