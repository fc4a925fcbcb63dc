"""Every write on a mass fault (DESIGN.md §10). Each service checks the actor's right
(`faults.permissions`), locks the fault row (`select_for_update`: of two people confirming or
resolving at once, the second waits and then finds the state moved on), runs the FSM
transition, saves with the version bumped, writes the fault's audit row and publishes it
(`faults.events`), all in one database transaction. The children are worked through the
order services (`ticket_dispatch`, `ticket_claim`, `ticket_reply`), so each keeps its own
audit rows, clocks and KPIs. Interfaces call these and nothing else."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, can_proceed

from accounts.models import Department, User
from notifications.services import staff_notes_summarised
from workorders import services as orders
from workorders.errors import Conflict, DomainError, Invalid, InvalidState, NotAllowed
from workorders.models import OPEN_STATES, AuditEntry, CauseCategory, State, Ticket
from workorders.permissions import acting_role as order_role
from workorders.permissions import may as may_order

from . import events
from .geo import centre_and_radius
from .models import (
    Fault,
    FaultAudit,
    FaultLink,
    FaultNotice,
    FaultSequence,
    FaultState,
    LinkHow,
)
from .permissions import TRANSITIONS, acting_role
from .selectors import fault_matching

# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _stored(text) -> str:
    """Text written into the record is in the site language, whatever the actor reads."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def fault_next_number(*, now: datetime) -> str:
    """QZ + local date + 4-digit daily sequence; the row lock of the UPDATE serialises
    concurrent detections, so numbers are unique without gaps or retries."""
    day = timezone.localdate(now)
    FaultSequence.objects.bulk_create([FaultSequence(day=day, last=0)], ignore_conflicts=True)
    FaultSequence.objects.filter(day=day).update(last=F("last") + 1)
    last = FaultSequence.objects.filter(day=day).values_list("last", flat=True).get()
    return f"QZ{day:%Y%m%d}{last:04d}"


def _check_state(fault: Fault, name: str) -> None:
    if not can_proceed(getattr(fault, name)):
        raise InvalidState(
            _("群障当前状态为“%(state)s”，不能执行此操作。") % {"state": fault.get_state_display()}
        )


def _require(by: User | None, action: str, fault: Fault | None = None) -> str:
    role = acting_role(by, action, fault)
    if role is None:
        # Someone who may take this transition, on a fault in another state, hears about the
        # state (as on orders).
        if fault is not None and action in TRANSITIONS and acting_role(by, action) is not None:
            _check_state(fault, action)
        raise NotAllowed()
    return role


def _locked(fault: Fault | int) -> Fault:
    """The fault's row, fresh and locked until the transaction ends."""
    pk = fault.pk if isinstance(fault, Fault) else fault
    return (
        Fault.objects.select_for_update(of=("self",))
        .select_related("category", "department")
        .get(pk=pk)
    )


def _save(fault: Fault, fields: Iterable[str]) -> None:
    fault.version += 1
    try:
        fault.save(update_fields=sorted({*fields, "version", "updated_at"}))
    except ConcurrentTransition:
        raise Conflict(_("群障已被他人更新，请刷新后重试。")) from None


def _audit(
    fault: Fault,
    *,
    transition: str,
    source: str,
    by: User | None,
    role: str,
    now: datetime,
    comment: str = "",
    data: dict | None = None,
) -> FaultAudit:
    entry = FaultAudit.objects.create(
        fault=fault,
        transition=transition,
        source=source,
        target=fault.state,
        actor=by,
        actor_role=role,
        at=now,
        comment=comment or "",
        data=data or {},
    )
    events.publish(events.FAULT, fault=fault, audit=entry, now=now)
    return entry


def _text(value: str | None, name: str, *, max_length: int = 500) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(fields={name: [_("此项为必填项。")]})
    if len(value) > max_length:
        raise Invalid(fields={name: [_("最多 %(n)d 个字符。") % {"n": max_length}]})
    return value


def category_group(category) -> int:
    """The category group an order belongs to: its parent, or itself at the top level."""
    return category.parent_id or category.pk


# --------------------------------------------------------------------------- linking


def link_refusal(fault: Fault, ticket: Ticket) -> str | None:
    """Why this order may not join this fault (None: it may)."""
    if ticket.state not in OPEN_STATES:
        return _("工单 %(number)s 状态为“%(state)s”，不能关联群障。") % {
            "number": ticket.number,
            "state": ticket.get_state_display(),
        }
    if category_group(ticket.category) != category_group(fault.category):
        return _(
            "工单 %(number)s 的分类“%(category)s”与群障的分类“%(fault_category)s”不属于同一类，"
            "不能关联。"
        ) % {
            "number": ticket.number,
            "category": ticket.category,
            "fault_category": fault.category,
        }
    active = ticket.fault_links.filter(unlinked_at__isnull=True).select_related("fault").first()
    if active is not None:
        if active.fault_id == fault.pk:
            return _("工单 %(number)s 已在本群障中。") % {"number": ticket.number}
        return _("工单 %(number)s 已关联群障 %(fault)s。") % {
            "number": ticket.number,
            "fault": active.fault.number,
        }
    return None


def _refresh_area(fault: Fault) -> list[str]:
    """Count, first/last report and (when the children carry GPS) the centre and radius of
    the active children. Returns the changed field names."""
    children = Ticket.objects.filter(
        fault_links__fault=fault, fault_links__unlinked_at__isnull=True
    )
    agg = children.aggregate(first=Min("reported_at"), last=Max("reported_at"))
    fault.order_count = children.count()
    # Time to detect starts at the first complaint ever linked: keep the earliest seen.
    if agg["first"] and (fault.first_reported_at is None or agg["first"] < fault.first_reported_at):
        fault.first_reported_at = agg["first"]
    fault.last_reported_at = max(
        (t for t in (fault.last_reported_at, agg["last"]) if t), default=None
    )
    points = [
        (float(lat), float(lng))
        for lat, lng in children.filter(latitude__isnull=False, longitude__isnull=False)
        .values_list("latitude", "longitude")
        .iterator()
    ]
    area = centre_and_radius(points)
    if area is not None:
        fault.center_lat = round(area[0], 6)
        fault.center_lng = round(area[1], 6)
        fault.radius_m = area[2]
    return [
        "order_count",
        "first_reported_at",
        "last_reported_at",
        "center_lat",
        "center_lng",
        "radius_m",
    ]


@dataclass
class ChildOutcome:
    number: str
    done: bool
    state: str
    message: str = ""

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "done": self.done,
            "state": self.state,
            "message": self.message,
        }


def _error_text(exc: DomainError) -> str:
    parts = [str(exc.message)]
    parts += [str(m) for msgs in exc.fields.values() for m in msgs]
    if len(parts) > 1 and parts[0] == str(Invalid.default_message):
        parts = parts[1:]
    return " ".join(dict.fromkeys(parts))


def _dispatch_children(
    fault: Fault, tickets: Iterable[Ticket], *, by: User | None, now: datetime
) -> list[ChildOutcome]:
    """Every child still waiting for dispatch goes to the fault's department through the
    normal dispatch service (by `by` when they may dispatch, otherwise by the system, as a
    routing rule would). Children already with a department keep it."""
    if fault.department is None:
        return []
    actor = by if by is not None and may_order(by, "dispatch") else None
    comment = _stored(gettext_lazy("随群障 %(number)s 派单")) % {"number": fault.number}
    out = []
    # The department's leads hear of the confirmed fault once (faults.notify), not per order.
    with staff_notes_summarised():
        for ticket in tickets:
            if ticket.state != State.REPORTED:
                continue
            try:
                with transaction.atomic():
                    orders.ticket_dispatch(
                        ticket=ticket,
                        by=actor,
                        department=fault.department,
                        comment=comment,
                        now=now,
                    )
                    _tag_audit(ticket, "dispatch", fault, now)
                out.append(ChildOutcome(ticket.number, True, ticket.state))
            except DomainError as exc:
                ticket.refresh_from_db()
                out.append(ChildOutcome(ticket.number, False, ticket.state, _error_text(exc)))
    return out


def _tag_audit(ticket: Ticket, transition: str, fault: Fault, now: datetime) -> None:
    """Name the fault in the data of the audit row the order service just wrote."""
    entry = (
        AuditEntry.objects.filter(ticket=ticket, transition=transition, at=now)
        .order_by("-id")
        .first()
    )
    if entry is not None:
        entry.data = {**entry.data, "fault": fault.number}
        entry.save(update_fields=["data"])


def _notices(fault: Fault, tickets: Iterable[Ticket], now: datetime) -> list[FaultNotice]:
    """The customers of these (open) children must hear the current ETA message: one row per
    order and ETA version, never twice; the new rows go to the customer channel."""
    if fault.state != FaultState.CONFIRMED or fault.eta is None or not fault.eta_version:
        return []
    tickets = [t for t in tickets if t.is_open]
    if not tickets:
        return []
    told = set(
        FaultNotice.objects.filter(
            fault=fault, eta_version=fault.eta_version, ticket__in=[t.pk for t in tickets]
        ).values_list("ticket_id", flat=True)
    )
    rows = [
        FaultNotice(
            fault=fault,
            ticket=t,
            eta_version=fault.eta_version,
            eta=fault.eta,
            message=fault.customer_message,
            created_at=now,
        )
        for t in tickets
        if t.pk not in told
    ]
    if not rows:
        return []
    FaultNotice.objects.bulk_create(rows)
    events.publish(
        events.FAULT_ETA_CHANGED,
        fault=fault,
        eta_version=fault.eta_version,
        notices=rows,
        now=now,
    )
    return rows


def _link(
    fault: Fault,
    tickets: list[Ticket],
    *,
    how: str,
    by: User | None,
    role: str,
    now: datetime,
    linked_by: User | None = None,
    comment: str = "",
    data: dict | None = None,
) -> FaultAudit:
    """Link orders already checked by `link_refusal` (fault locked by the caller)."""
    try:
        with transaction.atomic():
            FaultLink.objects.bulk_create(
                [
                    FaultLink(
                        fault=fault,
                        ticket=t,
                        how=how,
                        linked_by=linked_by if linked_by is not None else by,
                        linked_at=now,
                    )
                    for t in tickets
                ]
            )
    except IntegrityError:
        raise Conflict(_("工单刚被关联到其他群障，请刷新后重试。")) from None
    _save(fault, _refresh_area(fault))
    entry = _audit(
        fault,
        transition="link",
        source=fault.state,
        by=by,
        role=role,
        now=now,
        comment=comment,
        data={"orders": [t.number for t in tickets], "how": how, **(data or {})},
    )
    if fault.state == FaultState.CONFIRMED:
        _dispatch_children(fault, tickets, by=by, now=now)
        _notices(fault, tickets, now)
    return entry


@transaction.atomic
def fault_link(
    *,
    fault: Fault,
    tickets: Iterable[Ticket],
    by: User | None,
    how: str = LinkHow.MANUAL,
    now: datetime | None = None,
) -> Fault:
    """关联: orders of the same category group that are still open join the fault. All or
    nothing: any order that may not join is named in the error and none is linked."""
    now = _now(now)
    _require(by, "link", fault)
    fault = _locked(fault)
    role = _require(by, "link", fault)
    if not fault.can_link:
        raise InvalidState(
            _("群障当前状态为“%(state)s”，不能关联或解除工单。")
            % {"state": fault.get_state_display()}
        )
    tickets = list(Ticket.objects.select_related("category").filter(pk__in=[t.pk for t in tickets]))
    if not tickets:
        raise Invalid(fields={"tickets": [_("请选择要关联的工单。")]})
    refusals = [r for r in (link_refusal(fault, t) for t in tickets) if r]
    if refusals:
        raise Invalid(fields={"tickets": refusals})
    _link(fault, tickets, how=how, by=by, role=role, now=now)
    return fault


@transaction.atomic
def fault_unlink(
    *, fault: Fault, ticket: Ticket, by: User, reason: str, now: datetime | None = None
) -> Fault:
    """解除关联, with a reason. The order keeps its department and clocks."""
    now = _now(now)
    _require(by, "unlink", fault)
    fault = _locked(fault)
    role = _require(by, "unlink", fault)
    if not fault.can_link:
        raise InvalidState(
            _("群障当前状态为“%(state)s”，不能关联或解除工单。")
            % {"state": fault.get_state_display()}
        )
    reason = _text(reason, "reason")
    link = fault.links.filter(ticket=ticket, unlinked_at__isnull=True).first()
    if link is None:
        raise Invalid(fields={"ticket": [_("工单 %(number)s 不在本群障中。") % {"number": ticket}]})
    link.unlinked_at = now
    link.unlinked_by = by
    link.unlink_reason = reason
    link.save(update_fields=["unlinked_at", "unlinked_by", "unlink_reason"])
    _save(fault, _refresh_area(fault))
    _audit(
        fault,
        transition="unlink",
        source=fault.state,
        by=by,
        role=role,
        now=now,
        comment=reason,
        data={"orders": [ticket.number]},
    )
    return fault


# --------------------------------------------------------------------------- transitions


@dataclass
class Outcome:
    """What a fault action did to each child (for the message and the API answer)."""

    fault: Fault
    children: list[ChildOutcome] = field(default_factory=list)

    @property
    def done(self) -> list[ChildOutcome]:
        return [c for c in self.children if c.done]

    @property
    def refused(self) -> list[ChildOutcome]:
        return [c for c in self.children if not c.done]


def _active_children(fault: Fault):
    return (
        Ticket.objects.filter(fault_links__fault=fault, fault_links__unlinked_at__isnull=True)
        .select_related("category", "department", "handler")
        .order_by("number")
    )


@transaction.atomic
def fault_confirm(
    *,
    fault: Fault,
    by: User,
    department: Department | None = None,
    eta: datetime | None = None,
    message: str = "",
    now: datetime | None = None,
) -> Outcome:
    """确认: the fault is real. Its department (default: the category's) gets every child
    still waiting for dispatch through the normal dispatch service; an ETA given here is the
    first ETA change."""
    now = _now(now)
    _require(by, "confirm", fault)
    fault = _locked(fault)
    role = _require(by, "confirm", fault)
    _check_state(fault, "confirm")
    department = department or fault.department or fault.category.default_department
    if department is None:
        raise Invalid(fields={"department": [_("请选择责任部门。")]})
    if not department.is_active:
        raise Invalid(fields={"department": [_("该部门已停用。")]})
    if eta is not None:
        eta = _check_eta(eta, now)
    source = fault.state
    fault.confirm(department=department, by=by, now=now)
    _save(fault, ["state", "department", "confirmed_at", "confirmed_by"])
    children = list(_active_children(fault))
    _audit(
        fault,
        transition="confirm",
        source=source,
        by=by,
        role=role,
        now=now,
        data={"department": department.name, "orders": [t.number for t in children]},
    )
    outcome = Outcome(fault, _dispatch_children(fault, children, by=by, now=now))
    if eta is not None:
        _set_eta(fault, eta=eta, message=message, by=by, role=role, now=now)
    return outcome


@transaction.atomic
def fault_dismiss(*, fault: Fault, by: User, reason: str, now: datetime | None = None) -> Fault:
    """排除: not a mass fault. Its orders are released, and detection will not suggest them
    together again."""
    now = _now(now)
    _require(by, "dismiss", fault)
    fault = _locked(fault)
    role = _require(by, "dismiss", fault)
    _check_state(fault, "dismiss")
    reason = _text(reason, "reason")
    source = fault.state
    fault.dismiss(reason=reason, by=by, now=now)
    numbers = list(
        fault.links.filter(unlinked_at__isnull=True)
        .order_by("ticket__number")
        .values_list("ticket__number", flat=True)
    )
    fault.links.filter(unlinked_at__isnull=True).update(
        unlinked_at=now,
        unlinked_by=by,
        unlink_reason=(_stored(gettext_lazy("群障已排除：")) + reason)[:500],
    )
    fault.order_count = 0
    _save(fault, ["state", "dismiss_reason", "dismissed_at", "dismissed_by", "order_count"])
    _audit(
        fault,
        transition="dismiss",
        source=source,
        by=by,
        role=role,
        now=now,
        comment=reason,
        data={"orders": numbers},
    )
    return fault


def _check_eta(eta: datetime | None, now: datetime) -> datetime:
    if eta is None:
        raise Invalid(fields={"eta": [_("请填写预计恢复时间。")]})
    if timezone.is_naive(eta):
        eta = timezone.make_aware(eta)
    if eta <= now:
        raise Invalid(fields={"eta": [_("预计恢复时间须晚于当前时间。")]})
    return eta


def _set_eta(fault, *, eta, message, by, role, now) -> list[FaultNotice]:
    message = (message or "").strip()
    if len(message) > 500:
        raise Invalid(fields={"message": [_("最多 %(n)d 个字符。") % {"n": 500}]})
    if fault.eta == eta and fault.customer_message == message:
        return []  # nothing changed: customers hear nothing again
    old = fault.eta
    fault.eta = eta
    fault.customer_message = message
    fault.eta_version += 1
    _save(fault, ["eta", "customer_message", "eta_version"])
    _audit(
        fault,
        transition="set_eta",
        source=fault.state,
        by=by,
        role=role,
        now=now,
        comment=message,
        data={
            "from": old.isoformat() if old else None,
            "to": eta.isoformat(),
            "version": fault.eta_version,
        },
    )
    return _notices(fault, _active_children(fault), now)


@transaction.atomic
def fault_set_eta(
    *,
    fault: Fault,
    by: User,
    eta: datetime | None,
    message: str = "",
    now: datetime | None = None,
) -> Fault:
    """预计恢复时间 and the customer-facing message of a confirmed fault. Each change is
    audited and told once to the customer of every open linked order; the same ETA and
    message again changes nothing."""
    now = _now(now)
    _require(by, "set_eta", fault)
    fault = _locked(fault)
    role = _require(by, "set_eta", fault)
    if fault.state != FaultState.CONFIRMED:
        raise InvalidState(_("确认群障后才能设置预计恢复时间。"))
    eta = _check_eta(eta, now)
    _set_eta(fault, eta=eta, message=message, by=by, role=role, now=now)
    return fault


def _reply_kwargs() -> set[str]:
    return set(inspect.signature(orders.ticket_reply).parameters)


@transaction.atomic
def fault_resolve(
    *,
    fault: Fault,
    by: User,
    public_reply: str,
    cause: str = CauseCategory.NETWORK,
    now: datetime | None = None,
) -> Outcome:
    """恢复: one public reply for the whole fault. Every open child gets its own `reply`
    (its own audit row, the resolver as actor, the fault named in the data); a child still
    waiting to be signed for in the resolver's department is signed for first. A child that
    cannot be replied to (its state, or the resolver's right on it) is reported and left as it
    is; the rest are replied to and the fault is resolved."""
    now = _now(now)
    _require(by, "resolve", fault)
    fault = _locked(fault)
    role = _require(by, "resolve", fault)
    _check_state(fault, "resolve")
    public_reply = _text(public_reply, "public_reply", max_length=2000)
    if cause not in CauseCategory.values:
        raise Invalid(fields={"cause": [_("请选择原因分类。")]})
    extra = {"public_reply": public_reply} if "public_reply" in _reply_kwargs() else {}
    children: list[ChildOutcome] = []
    for ticket in _active_children(fault):
        if not ticket.is_open:
            continue
        if ticket.state == State.REPLIED:
            children.append(
                ChildOutcome(ticket.number, False, ticket.state, _("已回复，无需再次回复。"))
            )
            continue
        try:
            with transaction.atomic():
                if ticket.state == State.DISPATCHED:
                    orders.ticket_claim(ticket=ticket, by=by, now=now)
                    _tag_audit(ticket, "claim", fault, now)
                orders.ticket_reply(
                    ticket=ticket,
                    by=by,
                    result=public_reply,
                    cause=cause,
                    resolved=True,
                    now=now,
                    **extra,
                )
                _tag_audit(ticket, "reply", fault, now)
            children.append(ChildOutcome(ticket.number, True, ticket.state))
        except DomainError as exc:
            ticket.refresh_from_db()
            children.append(ChildOutcome(ticket.number, False, ticket.state, _error_text(exc)))
    source = fault.state
    fault.resolve(public_reply=public_reply, by=by, now=now)
    _save(fault, ["state", "public_reply", "resolved_at", "resolved_by"])
    _audit(
        fault,
        transition="resolve",
        source=source,
        by=by,
        role=role,
        now=now,
        comment=public_reply,
        data={
            "cause": cause,
            "replied": [c.number for c in children if c.done],
            "not_replied": [c.as_dict() for c in children if not c.done],
        },
    )
    return Outcome(fault, children)


@transaction.atomic
def fault_close(*, fault: Fault, by: User | None, now: datetime | None = None) -> Fault:
    """关闭: a resolved fault is done (by a dispatcher, or by the system once every child is
    finished)."""
    now = _now(now)
    _require(by, "close", fault)
    fault = _locked(fault)
    role = _require(by, "close", fault)
    _check_state(fault, "close")
    source = fault.state
    fault.close(now=now)
    _save(fault, ["state", "closed_at"])
    _audit(fault, transition="close", source=source, by=by, role=role, now=now)
    return fault


# --------------------------------------------------------------------------- a new report


def fault_link_report(
    *,
    ticket: Ticket,
    by: User,
    related: bool = True,
    shown: str = "",
    now: datetime | None = None,
) -> Fault | None:
    """A report in the category and area of an open fault joins it: `suggested` when the
    reporter saw the hint (`shown` is the fault's number) and kept it ticked, `auto` when they
    did not see it. A reporter who said it is not related is recorded (a link row unlinked at
    once, with that reason), so detection does not add the order later."""
    now = _now(now)
    if not ticket.is_open:
        return None
    match = fault_matching(
        category=ticket.category,
        region=ticket.customer_region,
        lat=ticket.latitude,
        lng=ticket.longitude,
    )
    if match is None:
        return None
    seen = (shown or "").strip().upper() == match.number
    with transaction.atomic():
        fault = _locked(match)
        if not fault.can_link or link_refusal(fault, ticket):
            return None
        if seen and not related:
            FaultLink.objects.create(
                fault=fault,
                ticket=ticket,
                how=LinkHow.SUGGESTED,
                linked_by=by,
                linked_at=now,
                unlinked_at=now,
                unlinked_by=by,
                unlink_reason=_stored(gettext_lazy("报单人表示与群障无关")),
            )
            _audit(
                fault,
                transition="decline",
                source=fault.state,
                by=by,
                role=order_role(by, "report") or "",
                now=now,
                data={"orders": [ticket.number]},
            )
            return None
        _link(
            fault,
            [ticket],
            how=LinkHow.SUGGESTED if seen else LinkHow.AUTO,
            by=None,
            role="system",
            now=now,
            linked_by=by if seen else None,
            data={"reporter": by.username},
        )
    return fault


def fault_customer_text(*, fault: Fault, eta: datetime | None = None, message: str = "") -> str:
    """What a customer of a linked order is told (in the current language): the message the
    fault's people wrote, or a standard sentence with the expected restore time."""
    eta = eta or fault.eta
    message = message or fault.customer_message
    when = timezone.localtime(eta).strftime("%m-%d %H:%M") if eta else ""
    if message:
        return message
    return _(
        "您所在区域的%(category)s问题正在抢修，预计 %(eta)s 恢复，给您带来不便，敬请谅解。"
    ) % {
        "category": fault.category.name,
        "eta": when,
    }
