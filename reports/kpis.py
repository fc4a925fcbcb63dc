"""KPI engine (DESIGN.md §6): every figure for a period and a scope, optionally grouped by one
dimension, computed in SQL with conditional counts. No order is loaded into Python.

Each figure is counted on the event that defines it, inside the period [start, end):

- 受理量, 重复投诉率: orders *reported* in the period;
- 限时办结率 (original and effective due), 超时率, 解决率, 满意率, 有效回访率, 一次解决率,
  重办率, 延期率, 挂起率, net handling time: orders *closed* in the period (the visit recorded on
  the closed order is the visit that counts);
- 解决率 and 满意率 also split by the visit channel (phone, the customer's survey, on the spot);
  a survey answer that closed the order is the order's visit and counts like a callback;
- 满意度调查回复率: surveys *offered* in the period (one with each reply of an order that has
  a status link) that the customer answered;
- 派单及时率: `dispatch` clocks *stopped* in the period; 签收及时率 (响应率): `sign_for`
  clocks stopped in the period, counted against the clock's department;
- 退单率: return requests in the period ÷ dispatches to a department in the period (every
  dispatch, re-dispatch and return ruling starts one `sign_for` clock); 退单驳回率: rejected
  rulings ÷ return requests. A return counts against the department it was sent to (the
  department of the order's latest `sign_for` clock at that instant).

Each figure carries numerator, denominator and rate (percent, one decimal; None when the
denominator is 0). Every count has a name; `orders_behind()` returns the orders behind a count,
so every number drills down to its list.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Department
from customers.models import Survey
from faults.selectors import active_link_q
from notifications.models import Channel as SendChannel
from notifications.models import Delivery, DeliveryStatus, ReceiptStatus, SmsOptOut
from sla.models import Clock, ClockKind, SlaStatus
from sla.selectors import (
    NetSeconds,
    clock_met_q,
    clock_stopped_q,
    filter_sla_status,
    promise_met_q,
    sla_status_q,
)
from workorders.models import (
    OPEN_STATES,
    AuditEntry,
    Category,
    Channel,
    Satisfaction,
    State,
    Ticket,
    Urgency,
    VisitChannel,
    VisitOutcome,
)
from workorders.permissions import sees_all_tickets
from workorders.selectors import (
    tickets_visible_outside_departments,
    tickets_visible_to,
    wholly_visible_department_ids,
)

TZ = ZoneInfo(settings.TIME_ZONE)

# --------------------------------------------------------------------------- period and scope

PERIOD_KINDS = {
    "today": _("今日"),
    "yesterday": _("昨日"),
    "week": _("本周"),
    "last_week": _("上周"),
    "month": _("本月"),
    "custom": _("自定义"),
}


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=TZ)


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of aware datetimes (Asia/Shanghai days)."""

    start: datetime
    end: datetime
    kind: str = "custom"

    @property
    def first_day(self) -> date:
        return self.start.astimezone(TZ).date()

    @property
    def last_day(self) -> date:
        return (self.end.astimezone(TZ) - timedelta(microseconds=1)).date()

    @property
    def label(self) -> str:
        a, b = self.first_day, self.last_day
        return a.isoformat() if a == b else f"{a.isoformat()} ~ {b.isoformat()}"

    def previous(self) -> Period:
        """The period just before: yesterday, last week, last month, or the same length."""
        if self.kind in ("month",) or (
            self.start.astimezone(TZ).day == 1
            and self.end.astimezone(TZ).day == 1
            and self.kind == "custom"
            and (self.end - self.start) > timedelta(days=27)
        ):
            first = self.first_day
            prev_first = (first - timedelta(days=1)).replace(day=1)
            return Period(_midnight(prev_first), self.start, self.kind)
        return Period(self.start - (self.end - self.start), self.start, self.kind)


def period_for(
    kind: str,
    *,
    now: datetime | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Period:
    """The period of `kind` containing `now` (local days); custom is [start, end] inclusive."""
    today = timezone.localtime(now or timezone.now(), TZ).date()
    if kind == "today":
        return Period(_midnight(today), _midnight(today + timedelta(days=1)), kind)
    if kind == "yesterday":
        return Period(_midnight(today - timedelta(days=1)), _midnight(today), kind)
    if kind in ("week", "last_week"):
        monday = today - timedelta(days=today.weekday())
        if kind == "last_week":
            monday -= timedelta(days=7)
        return Period(_midnight(monday), _midnight(monday + timedelta(days=7)), "week")
    if kind == "month":
        first = today.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return Period(_midnight(first), _midnight(nxt), kind)
    if kind == "custom":
        if start is None or end is None or end < start:
            raise ValueError("custom period needs start <= end")
        return Period(_midnight(start), _midnight(end + timedelta(days=1)), kind)
    raise ValueError(f"unknown period kind {kind!r}")


@dataclass(frozen=True)
class Scope:
    """Which orders count: a department subtree (or exactly one department), a category (and
    its sub-categories), a region, an urgency, a channel. Empty means everything."""

    department: Department | None = None
    department_exact: bool = False
    category: Category | None = None
    region: str = ""
    urgency: str = ""
    channel: str = ""
    no_department: bool = False
    # Leave out the orders linked to a mass fault (faults app): the figures without the
    # complaints one outage produced.
    exclude_fault_linked: bool = False

    def department_ids(self) -> list[int] | None:
        if self.department is None:
            return None
        if self.department_exact:
            return [self.department.pk]
        return list(self.department.subtree().values_list("pk", flat=True))

    def category_ids(self) -> list[int] | None:
        if self.category is None:
            return None
        return [self.category.pk, *self.category.children.values_list("pk", flat=True)]


# --------------------------------------------------------------------------- sources and counts

RETURN_DEPT = "kpi_dept"


@dataclass(frozen=True)
class Source:
    """Rows whose events are counted: the model, the instant that places a row in a period,
    the path to the order, the path to the department the row counts against, and the named
    conditional counts taken over it."""

    name: str
    model: type
    anchor: str
    prefix: str
    dept: str
    base: Q
    counts: dict[str, Q | None]

    def rows(self) -> QuerySet:
        qs = self.model.objects.filter(self.base)
        if self.dept == RETURN_DEPT:
            qs = qs.annotate(
                **{
                    RETURN_DEPT: Subquery(
                        Clock.objects.filter(
                            ticket=OuterRef("ticket_id"),
                            kind=ClockKind.SIGN_FOR,
                            started_at__lte=OuterRef("at"),
                        )
                        .order_by("-started_at", "-id")
                        .values("department_id")[:1]
                    )
                }
            )
        return qs


_success = Q(visit_outcome=VisitOutcome.SUCCESS)
_satisfied = Q(visit_satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASICALLY])
# The visit channels split 解决率 and 满意率 (phone callback, the customer's own survey, on the
# spot); each count is a conditional count in the same pass over closed orders.
VISIT_CHANNELS = {
    VisitChannel.PHONE: "phone",
    VisitChannel.SMS_SURVEY: "sms",
    VisitChannel.ON_THE_SPOT: "spot",
}


def _channel_counts() -> dict[str, Q]:
    out = {}
    for channel, short in VISIT_CHANNELS.items():
        visited = _success & Q(visit_channel=channel)
        out[f"visits_{short}"] = visited
        out[f"resolved_{short}"] = visited & Q(visit_resolved=True)
        out[f"satisfied_{short}"] = visited & _satisfied
    return out


SOURCES: tuple[Source, ...] = (
    Source(
        "received",
        Ticket,
        "reported_at",
        "",
        "department_id",
        Q(),
        {
            "received": None,
            "repeats": Q(is_repeat=True),
            # 监管申诉: on the regulator track; 越级: marked 申诉 after it was filed elsewhere.
            "regulator": Q(is_regulator=True),
            "regulator_escalated": Q(is_regulator=True, regulator_marked_at__isnull=False),
            # 越级投诉预警: orders whose risk score crossed the alert line, and those of them
            # that reached the regulator afterwards (marked 申诉 at or after the alert).
            "risk_alerted": Q(risk_alerted_at__isnull=False),
            "risk_then_regulator": Q(
                risk_alerted_at__isnull=False,
                is_regulator=True,
                regulator_marked_at__gte=F("risk_alerted_at"),
            ),
        },
    ),
    Source(
        "closed",
        Ticket,
        "closed_at",
        "",
        "department_id",
        Q(state=State.CLOSED),
        {
            "closed": None,
            "met_original": promise_met_q(original=True),
            "met_effective": promise_met_q(original=False),
            "missed_original": ~promise_met_q(original=True),
            "missed_effective": ~promise_met_q(original=False),
            "visits": _success,
            "resolved": _success & Q(visit_resolved=True),
            "satisfied": _success & _satisfied,
            "first_time": Q(return_count=0, redo_count=0, visit_resolved=True),
            "redone": Q(redo_count__gt=0),
            "extended": Q(extension_count__gt=0),
            "suspended": Q(suspension_count__gt=0),
            **_channel_counts(),
        },
    ),
    # Surveys offered with each reply of an order that has a status link, in the period of
    # the reply, and those the customer answered (调查回复率).
    Source(
        "surveys",
        Survey,
        "offered_at",
        "ticket__",
        "ticket__department_id",
        Q(),
        {"surveys_offered": None, "surveys_answered": Q(answered_at__isnull=False)},
    ),
    # Texts to customers (客户短信) written in the period: accepted by the SMS platform, and
    # refused or given up on or reported undelivered by its receipt.
    Source(
        "sms",
        Delivery,
        "created_at",
        "ticket__",
        "ticket__department_id",
        Q(channel=SendChannel.SMS, ticket__isnull=False),
        {
            "sms_sent": Q(status=DeliveryStatus.SENT),
            "sms_failed": Q(status=DeliveryStatus.FAILED) | Q(receipt_status=ReceiptStatus.FAILED),
        },
    ),
    # Numbers that opted out in the period, against the order each last heard about.
    Source(
        "sms_opt_outs",
        SmsOptOut,
        "at",
        "ticket__",
        "ticket__department_id",
        Q(),
        {"sms_opt_outs": None},
    ),
    Source(
        "dispatch_clock",
        Clock,
        "stopped_at",
        "ticket__",
        "ticket__department_id",
        Q(kind=ClockKind.DISPATCH) & clock_stopped_q(),
        {"dispatch_stopped": None, "dispatch_met": clock_met_q()},
    ),
    Source(
        "sign_clock",
        Clock,
        "stopped_at",
        "ticket__",
        "department_id",
        Q(kind=ClockKind.SIGN_FOR) & clock_stopped_q(),
        {"sign_stopped": None, "sign_met": clock_met_q()},
    ),
    Source(
        "dispatches",
        Clock,
        "started_at",
        "ticket__",
        "department_id",
        Q(kind=ClockKind.SIGN_FOR),
        {"dispatches": None},
    ),
    Source(
        "returns",
        AuditEntry,
        "at",
        "ticket__",
        RETURN_DEPT,
        Q(transition__in=["request_return", "rule_return"]),
        {
            "returns": Q(transition="request_return"),
            "returns_rejected": Q(transition="rule_return", data__ruling="rejected"),
        },
    ),
)
SOURCE_OF_COUNT: dict[str, Source] = {c: s for s in SOURCES for c in s.counts}


@dataclass(frozen=True)
class KpiDef:
    key: str
    label: str
    numerator: str
    denominator: str | None  # None: a plain count
    headline: bool = False


KPIS: tuple[KpiDef, ...] = (
    KpiDef("received", _("受理量"), "received", None),
    KpiDef("dispatch_on_time", _("派单及时率"), "dispatch_met", "dispatch_stopped"),
    KpiDef("response", _("响应率(签收及时率)"), "sign_met", "sign_stopped", headline=True),
    KpiDef("resolution", _("解决率"), "resolved", "visits", headline=True),
    KpiDef("satisfaction", _("满意率"), "satisfied", "visits", headline=True),
    KpiDef("on_time_closure", _("限时办结率"), "met_original", "closed", headline=True),
    KpiDef("on_time_closure_effective", _("限时办结率(含延期)"), "met_effective", "closed"),
    KpiDef("overdue", _("超时率"), "missed_original", "closed"),
    KpiDef("overdue_effective", _("超时率(含延期)"), "missed_effective", "closed"),
    KpiDef("valid_visit", _("有效回访率"), "visits", "closed"),
    KpiDef("first_time", _("一次解决率"), "first_time", "closed"),
    KpiDef("repeat", _("重复投诉率"), "repeats", "received"),
    KpiDef("regulator", _("监管申诉量"), "regulator", None),
    KpiDef("regulator_escalation", _("越级率"), "regulator_escalated", "received"),
    KpiDef("risk_alerted", _("越级预警量"), "risk_alerted", None),
    KpiDef("risk_then_regulator", _("预警后越级率"), "risk_then_regulator", "risk_alerted"),
    KpiDef("return", _("退单率"), "returns", "dispatches"),
    KpiDef("return_rejected", _("退单驳回率"), "returns_rejected", "returns"),
    KpiDef("redo", _("重办率"), "redone", "closed"),
    KpiDef("extension", _("延期率"), "extended", "closed"),
    KpiDef("suspension", _("挂起率"), "suspended", "closed"),
    KpiDef("survey_response", _("满意度调查回复率"), "surveys_answered", "surveys_offered"),
    KpiDef("sms_sent", _("客户短信已发送"), "sms_sent", None),
    KpiDef("sms_failed", _("客户短信失败"), "sms_failed", None),
    KpiDef("sms_opt_outs", _("短信退订"), "sms_opt_outs", None),
    KpiDef("resolution_phone", _("解决率(电话回访)"), "resolved_phone", "visits_phone"),
    KpiDef("satisfaction_phone", _("满意率(电话回访)"), "satisfied_phone", "visits_phone"),
    KpiDef("resolution_sms", _("解决率(短信调查)"), "resolved_sms", "visits_sms"),
    KpiDef("satisfaction_sms", _("满意率(短信调查)"), "satisfied_sms", "visits_sms"),
    KpiDef("resolution_spot", _("解决率(现场回访)"), "resolved_spot", "visits_spot"),
    KpiDef("satisfaction_spot", _("满意率(现场回访)"), "satisfied_spot", "visits_spot"),
)
# The per-channel figures, (channel, resolution key, satisfaction key, visits count).
CHANNEL_KPIS = tuple(
    (channel, f"resolution_{short}", f"satisfaction_{short}", f"visits_{short}")
    for channel, short in VISIT_CHANNELS.items()
)
KPI_BY_KEY = {k.key: k for k in KPIS}
HEADLINE = ("response", "resolution", "satisfaction", "on_time_closure")

COUNT_LABELS = {
    "received": _("受理量"),
    "repeats": _("重复投诉"),
    "regulator": _("监管申诉"),
    "regulator_escalated": _("越级申诉"),
    "risk_alerted": _("越级预警"),
    "risk_then_regulator": _("预警后越级"),
    "closed": _("办结量"),
    "met_original": _("按原时限办结"),
    "met_effective": _("按有效时限办结"),
    "missed_original": _("超原时限办结"),
    "missed_effective": _("超有效时限办结"),
    "visits": pgettext_lazy("kpi", "回访成功"),
    "resolved": _("已解决"),
    "satisfied": _("满意及基本满意"),
    "first_time": _("一次解决"),
    "redone": _("重办"),
    "extended": _("延期"),
    "suspended": _("挂起"),
    "dispatch_stopped": _("派单时限已停止"),
    "dispatch_met": _("派单及时"),
    "sign_stopped": _("签收时限已停止"),
    "sign_met": _("签收及时"),
    "dispatches": _("派单次数"),
    "returns": _("退单次数"),
    "returns_rejected": _("退单驳回次数"),
    "visits_phone": _("电话回访成功"),
    "resolved_phone": _("已解决(电话回访)"),
    "satisfied_phone": _("满意及基本满意(电话回访)"),
    "visits_sms": _("短信调查回访成功"),
    "resolved_sms": _("已解决(短信调查)"),
    "satisfied_sms": _("满意及基本满意(短信调查)"),
    "visits_spot": _("现场回访成功"),
    "resolved_spot": _("已解决(现场回访)"),
    "satisfied_spot": _("满意及基本满意(现场回访)"),
    "surveys_offered": _("已发出满意度调查"),
    "surveys_answered": _("客户已评价"),
    "sms_sent": _("客户短信已发送"),
    "sms_failed": _("客户短信失败"),
    "sms_opt_outs": _("短信退订"),
}


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    numerator: int
    denominator: int | None
    numerator_count: str = ""
    denominator_count: str = ""

    @property
    def rate(self) -> float | None:
        """Percent with one decimal; None for a plain count or when the denominator is 0."""
        if self.denominator is None or self.denominator == 0:
            return None
        return round(self.numerator * 100.0 / self.denominator, 1)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": str(self.label),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": self.rate,
        }


@dataclass
class KpiRow:
    """The figures of one group (or of the whole scope when `key` is None)."""

    key: object = None
    label: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    net_mean_seconds: float | None = None
    net_p90_seconds: float | None = None
    period: Period | None = None

    @property
    def figures(self) -> dict[str, Figure]:
        out = {}
        for k in KPIS:
            num = self.counts.get(k.numerator, 0)
            den = None if k.denominator is None else self.counts.get(k.denominator, 0)
            out[k.key] = Figure(k.key, k.label, num, den, k.numerator, k.denominator or "")
        return out

    def rate(self, key: str) -> float | None:
        return self.figures[key].rate

    @property
    def net_mean_hours(self) -> float | None:
        s = self.net_mean_seconds
        return None if s is None else round(s / 3600, 2)

    @property
    def net_p90_hours(self) -> float | None:
        s = self.net_p90_seconds
        return None if s is None else round(s / 3600, 2)

    def as_dict(self) -> dict:
        return {
            "key": _json_key(self.key),
            "label": self.label,
            "counts": dict(self.counts),
            "figures": {k: f.as_dict() for k, f in self.figures.items()},
            "net_handling_hours": {
                "mean": self.net_mean_hours,
                "p90": self.net_p90_hours,
                "count": self.counts.get("closed", 0),
            },
        }


def _json_key(key):
    if isinstance(key, datetime):
        return timezone.localtime(key, TZ).date().isoformat()
    return key


# --------------------------------------------------------------------------- grouping

GROUP_BY = {
    "department": _("部门"),
    "category": _("问题分类"),
    "region": _("归属地区"),
    "urgency": _("紧急程度"),
    "channel": _("受理渠道"),
    "day": _("按日"),
    "week": _("按周"),
    "month": _("按月"),
}
TIME_GROUPS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def _dim(source: Source, group_by: str):
    if group_by in TIME_GROUPS:
        return TIME_GROUPS[group_by](source.anchor, tzinfo=TZ)
    if group_by == "department":
        return F(source.dept)
    fields = {
        "category": "category_id",
        "region": "customer_region",
        "urgency": "urgency",
        "channel": "channel",
    }
    return F(source.prefix + fields[group_by])


def bucket_period(group_by: str, key: datetime) -> Period:
    start = timezone.localtime(key, TZ)
    start = _midnight(start.date())
    if group_by == "day":
        end = start + timedelta(days=1)
    elif group_by == "week":
        end = start + timedelta(days=7)
    else:
        end = _midnight((start.date() + timedelta(days=32)).replace(day=1))
    return Period(start, end, "custom")


def group_label(group_by: str | None, key) -> str:
    if group_by is None:
        return str(_("合计"))
    if key is None or key == "":
        return str({"department": _("未派单"), "region": _("未填写")}.get(group_by, _("未填写")))
    if group_by == "department":
        return Department.objects.filter(pk=key).values_list("name", flat=True).first() or "?"
    if group_by == "category":
        cat = Category.objects.select_related("parent").filter(pk=key).first()
        return str(cat) if cat else "?"
    if group_by == "urgency":
        return str(Urgency(key).label) if key in Urgency.values else str(key)
    if group_by == "channel":
        return str(Channel(key).label) if key in Channel.values else str(key)
    if group_by in TIME_GROUPS:
        d = timezone.localtime(key, TZ).date()
        if group_by == "day":
            return d.isoformat()
        if group_by == "week":
            iso = d.isocalendar()
            return f"{iso[0]}-W{iso[1]:02d} ({d:%m-%d})"
        return f"{d:%Y-%m}"
    return str(key)


# --------------------------------------------------------------------------- computing


class Percentile90(Aggregate):
    """Nearest-rank 90th percentile (PostgreSQL percentile_disc); same rule as `_p90_sqlite`."""

    function = "percentile_disc"
    template = "%(function)s(0.9) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _visible(source: Source, qs: QuerySet, user, *, outside_departments: bool = False):
    """The rows of orders `user` sees; `outside_departments`: only those of orders outside
    the departments whose orders he sees wholly (the part the roll-up does not serve him)."""
    if user is None or sees_all_tickets(user):
        return qs  # None: the system (scheduled reports) sees every order
    visible = tickets_visible_outside_departments if outside_departments else tickets_visible_to
    if source.model is Ticket:
        # The rule's conditions on the rows themselves: no second pass over the orders
        # (`pk IN (visible orders)` read every order's row to find the visible ones).
        return visible(user, qs)
    return qs.filter(ticket__in=visible(user).values("pk"))


def _scoped(source: Source, qs: QuerySet, scope: Scope) -> QuerySet:
    p = source.prefix
    ids = scope.department_ids()
    if ids is not None:
        qs = qs.filter(**{f"{source.dept}__in": ids})
    elif scope.no_department:
        qs = qs.filter(**{f"{source.dept}__isnull": True})
    cats = scope.category_ids()
    if cats is not None:
        qs = qs.filter(**{f"{p}category_id__in": cats})
    if scope.region:
        qs = qs.filter(**{f"{p}customer_region": scope.region})
    if scope.urgency:
        qs = qs.filter(**{f"{p}urgency": scope.urgency})
    if scope.channel:
        qs = qs.filter(**{f"{p}channel": scope.channel})
    if scope.exclude_fault_linked:
        qs = qs.exclude(active_link_q(p))
    return qs


def source_rows(
    source: Source, *, user, period: Period, scope: Scope, outside_departments: bool = False
) -> QuerySet:
    qs = _visible(source, source.rows(), user, outside_departments=outside_departments)
    qs = qs.filter(**{f"{source.anchor}__gte": period.start, f"{source.anchor}__lt": period.end})
    return _scoped(source, qs, scope)


def _aggregates(source: Source) -> dict:
    return {name: Count("pk", filter=q) if q else Count("pk") for name, q in source.counts.items()}


def _net_aggregates(p90: bool = True) -> dict:
    aggs = {"net_mean": Avg(NetSeconds("promise_clock__"))}
    if p90 and connection.vendor == "postgresql":
        aggs["net_p90"] = Percentile90(NetSeconds("promise_clock__"))
    return aggs


def _p90_sqlite(qs: QuerySet) -> float | None:
    """Nearest rank: the value at position ceil(0.9 n) in ascending order, one row fetched."""
    vals = qs.filter(promise_clock__stopped_at__isnull=False).annotate(
        net=NetSeconds("promise_clock__")
    )
    n = vals.count()
    if n == 0:
        return None
    k = math.ceil(0.9 * n)
    return vals.order_by("net").values_list("net", flat=True)[k - 1]


@contextmanager
def _report_queries():
    """PostgreSQL: the KPI queries are few, large aggregates planned in milliseconds; JIT
    compilation cost 0.1–0.2 s each and gained nothing (EXPLAIN ANALYZE at 1,000,000 orders),
    and the P90 sort spilled to disk at the default work_mem. Both are set for this
    transaction only."""
    from .routing import read_alias

    alias = read_alias()
    if connections[alias].vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cur:
            cur.execute("SET LOCAL jit = off")
            cur.execute("SET LOCAL work_mem = '64MB'")
        yield


def kpi_rows(
    *,
    user,
    period: Period,
    scope: Scope | None = None,
    group_by: str | None = None,
    p90: bool = True,
    live: bool = False,
) -> list[KpiRow]:
    """One row per group value (or a single total row when `group_by` is None). `p90=False`
    leaves `net_p90_seconds` empty (it needs a sort of every closed order; the report page
    shows it for the total only). The order-anchored counts come from the daily roll-up
    (`reports.rollup`) where it can serve the request, unless `live`; there P90 is the upper
    edge of its histogram bucket."""
    if group_by is not None and group_by not in GROUP_BY:
        raise ValueError(f"unknown group_by {group_by!r}")
    scope = scope or Scope()
    rolled = not live and _rollup().serves(user=user, period=period, scope=scope)
    with _report_queries():
        return _kpi_rows(
            user=user, period=period, scope=scope, group_by=group_by, p90=p90, rolled=rolled
        )


def _rollup():
    from . import rollup  # it reads this module's sources

    return rollup


def _add_rolled(rows: dict, *, user, period: Period, scope: Scope, group_by: str | None, p90: bool):
    rollup = _rollup()
    by = () if group_by is None else (group_by,)
    for key, vals in rollup.sums(period=period, scope=scope, by=by, user=user).items():
        row = rows.setdefault(key[0] if by else None, KpiRow(key=key[0] if by else None))
        for name in rollup.ROLLED_COUNTS:
            row.counts[name] = row.counts.get(name, 0) + int(vals[name])
        row.net_mean_seconds = rollup.net_mean(vals)
        if p90:
            row.net_p90_seconds = rollup.p90_seconds(rollup.hist_of(vals))


def _kpi_rows(
    *, user, period: Period, scope: Scope, group_by: str | None, p90: bool, rolled: bool = False
):
    rows: dict[object, KpiRow] = {}
    if rolled:
        _add_rolled(rows, user=user, period=period, scope=scope, group_by=group_by, p90=p90)
    for source in SOURCES:
        if rolled and source.name in _rollup().ROLLED:
            continue
        qs = source_rows(source, user=user, period=period, scope=scope)
        aggs = _aggregates(source)
        if source.name == "closed":
            aggs.update(_net_aggregates(p90))
        if group_by is None:
            results = [{"g": None, **qs.aggregate(**aggs)}]
        else:
            results = qs.annotate(g=_dim(source, group_by)).values("g").annotate(**aggs).order_by()
        for r in results:
            key = r["g"]
            row = rows.setdefault(key, KpiRow(key=key))
            for name in source.counts:
                row.counts[name] = row.counts.get(name, 0) + (r[name] or 0)
            if source.name == "closed":
                row.net_mean_seconds = r["net_mean"]
                if "net_p90" in r:
                    row.net_p90_seconds = r["net_p90"]
                elif p90 and r["closed"]:
                    sub = qs if group_by is None else qs.annotate(g=_dim(source, group_by))
                    sub = sub if group_by is None else sub.filter(g=key)
                    row.net_p90_seconds = _p90_sqlite(sub)
    for key, row in rows.items():
        for name in SOURCE_OF_COUNT:
            row.counts.setdefault(name, 0)
        row.label = group_label(group_by, key)
        row.period = bucket_period(group_by, key) if group_by in TIME_GROUPS and key else period
    if group_by is None and not rows:
        rows[None] = KpiRow(key=None, label=group_label(None, None), period=period)
        for name in SOURCE_OF_COUNT:
            rows[None].counts[name] = 0
    if group_by in TIME_GROUPS:
        return _fill_buckets(group_by, period, list(rows.values()))
    return sorted(rows.values(), key=lambda r: (r.key is None, r.label))


def _bucket_starts(group_by: str, period: Period) -> list[date]:
    first = period.first_day
    if group_by == "week":
        first -= timedelta(days=first.weekday())
    elif group_by == "month":
        first = first.replace(day=1)
    out = []
    d = first
    while d <= period.last_day:
        out.append(d)
        d = bucket_period(group_by, _midnight(d)).end.astimezone(TZ).date()
    return out


def _fill_buckets(group_by: str, period: Period, rows: list[KpiRow]) -> list[KpiRow]:
    """Every day/week/month of the period, empty ones included (a trend has no gaps)."""
    by_day = {timezone.localtime(r.key, TZ).date(): r for r in rows if r.key is not None}
    out = []
    for d in _bucket_starts(group_by, period):
        row = by_day.get(d)
        if row is None:
            key = _midnight(d)
            row = KpiRow(key=key, label=group_label(group_by, key))
            row.counts = dict.fromkeys(SOURCE_OF_COUNT, 0)
            row.period = bucket_period(group_by, key)
        out.append(row)
    return out


def kpi_summary(*, user, period: Period, scope: Scope | None = None) -> KpiRow:
    return kpi_rows(user=user, period=period, scope=scope)[0]


def _ranked(rows: list[KpiRow]) -> list[KpiRow]:
    def rank(r: KpiRow):
        rates = [r.rate(k) for k in ("on_time_closure", "response", "satisfaction")]
        return (*((x is None, -(x or 0)) for x in rates), r.key is None, r.label)

    return sorted(rows, key=rank)


def department_scorecard(
    *, user, period: Period, scope: Scope | None = None, p90: bool = True
) -> list[KpiRow]:
    """Departments ranked: 限时办结率, then 响应率, then 满意率 (None last)."""
    return _ranked(kpi_rows(user=user, period=period, scope=scope, group_by="department", p90=p90))


def scorecard_departments(rows: list[KpiRow]) -> list[KpiRow]:
    """What a scorecard shows (presentation): departments only — 未派单 (orders with no
    department yet) is not one — and none without a single figure in the period."""
    return [
        r
        for r in rows
        if r.key is not None and any(f.numerator or f.denominator for f in r.figures.values())
    ]


# --------------------------------------------------------------------------- the report page


@dataclass
class ReportFigures:
    """What the report page shows: the period's total (with P90), the previous period's
    total (no P90), the ranked department scorecard and the trend (no P90)."""

    current: KpiRow
    previous: KpiRow
    scorecard: list[KpiRow]
    trend: list[KpiRow]


@dataclass
class _Acc:
    """Counts and net-time sums of some (department, day) cells: they add up exactly."""

    counts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    net_sum: float = 0.0
    net_n: int = 0

    def add(self, r: dict, names) -> None:
        for name in names:
            self.counts[name] = self.counts.get(name, 0) + (r[name] or 0)
        self.rows += r["_rows"]
        if r.get("_net_n"):
            self.net_sum += r["_net_sum"] or 0.0
            self.net_n += r["_net_n"]

    def row(self, key, label: str, period: Period) -> KpiRow:
        counts = {name: self.counts.get(name, 0) for name in SOURCE_OF_COUNT}
        mean = self.net_sum / self.net_n if self.net_n else None
        return KpiRow(key=key, label=label, counts=counts, net_mean_seconds=mean, period=period)


def _whole_days(period: Period) -> bool:
    return period.start == _midnight(period.first_day) and period.end == _midnight(
        period.last_day + timedelta(days=1)
    )


def _bucket_start(group_by: str, d: date) -> date:
    if group_by == "week":
        return d - timedelta(days=d.weekday())
    if group_by == "month":
        return d.replace(day=1)
    return d


def report_figures(
    *,
    user,
    period: Period,
    scope: Scope | None = None,
    trend_by: str = "day",
    p90: bool = True,
    live: bool = False,
) -> ReportFigures:
    """The report page's total, previous total, department scorecard and trend from ONE
    grouped query per source: counts (and net-time sums) by (department, local day) over the
    previous and the current period together, added up in Python. Each figure is a count or
    a sum, so the views agree exactly with `kpi_rows` per view; P90 cannot be added up and is
    computed live for the current total only. Periods that do not start and end on local
    midnights fall back to one `kpi_rows` call per view."""
    scope = scope or Scope()
    previous = period.previous()
    if trend_by not in TIME_GROUPS:
        raise ValueError(f"unknown trend_by {trend_by!r}")
    if not (_whole_days(period) and _whole_days(previous) and previous.end == period.start):
        return ReportFigures(
            current=kpi_summary(user=user, period=period, scope=scope),
            previous=kpi_rows(user=user, period=previous, scope=scope, p90=False)[0],
            scorecard=department_scorecard(user=user, period=period, scope=scope, p90=False),
            trend=kpi_rows(user=user, period=period, scope=scope, group_by=trend_by, p90=False),
        )
    both = Period(previous.start, period.end, "custom")
    rolled = not live and _rollup().serves(user=user, period=both, scope=scope)
    with _report_queries():
        return _report_figures(user, period, previous, scope, trend_by, p90, rolled)


def _report_figures(user, period, previous, scope, trend_by, p90, rolled=False) -> ReportFigures:
    both = Period(previous.start, period.end, "custom")
    first = period.first_day
    cur, prev = _Acc(), _Acc()
    depts: dict[object, _Acc] = {}
    buckets: dict[date, _Acc] = {}
    current_hist = None
    if rolled:
        rollup = _rollup()
        current_hist = [0] * len(rollup.KPI_HIST_FIELDS)
        cells = rollup.sums(period=both, scope=scope, by=("department", "day"), user=user)
        for (dept, day_start), vals in cells.items():
            day = day_start.date()
            r = {
                **vals,
                "_rows": vals["rows"],
                "_net_sum": vals["net_sum"],
                "_net_n": vals["net_n"],
            }
            if day < first:
                prev.add(r, rollup.ROLLED_COUNTS)
                continue
            cur.add(r, rollup.ROLLED_COUNTS)
            depts.setdefault(dept, _Acc()).add(r, rollup.ROLLED_COUNTS)
            buckets.setdefault(_bucket_start(trend_by, day), _Acc()).add(r, rollup.ROLLED_COUNTS)
            for i, n in enumerate(rollup.hist_of(vals)):
                current_hist[i] += n
    for source in SOURCES:
        if rolled and source.name in _rollup().ROLLED:
            continue
        aggs = {**_aggregates(source), "_rows": Count("pk")}
        if source.name == "closed":
            net = NetSeconds("promise_clock__")
            aggs.update(_net_sum=Sum(net), _net_n=Count(net))
        qs = source_rows(source, user=user, period=both, scope=scope)
        results = (
            qs.annotate(_day=TruncDay(source.anchor, tzinfo=TZ), _dept=F(source.dept))
            .values("_dept", "_day")
            .annotate(**aggs)
            .order_by()
        )
        for r in results:
            day = timezone.localtime(r["_day"], TZ).date()
            if day < first:
                prev.add(r, source.counts)
                continue
            cur.add(r, source.counts)
            depts.setdefault(r["_dept"], _Acc()).add(r, source.counts)
            buckets.setdefault(_bucket_start(trend_by, day), _Acc()).add(r, source.counts)

    current = cur.row(None, group_label(None, None), period)
    if p90 and current_hist is not None:
        current.net_p90_seconds = _rollup().p90_seconds(current_hist)
    elif p90 and current.counts["closed"]:
        closed = source_rows(SOURCE_OF_COUNT["closed"], user=user, period=period, scope=scope)
        if connection.vendor == "postgresql":
            current.net_p90_seconds = closed.aggregate(
                p=Percentile90(NetSeconds("promise_clock__"))
            )["p"]
        else:
            current.net_p90_seconds = _p90_sqlite(closed)
    scorecard = [
        acc.row(key, group_label("department", key), period)
        for key, acc in depts.items()
        if acc.rows
    ]
    trend = []
    for d, acc in buckets.items():
        key = _midnight(d)
        trend.append(acc.row(key, group_label(trend_by, key), bucket_period(trend_by, key)))
    return ReportFigures(
        current=current,
        previous=prev.row(None, group_label(None, None), previous),
        scorecard=_ranked(scorecard),
        trend=_fill_buckets(trend_by, period, trend),
    )


# --------------------------------------------------------------------------- drill-down


def orders_behind(*, user, period: Period, scope: Scope | None, count: str) -> QuerySet[Ticket]:
    """The orders behind a named count of `kpi_rows` (same period, scope and visibility)."""
    scope = scope or Scope()
    source = SOURCE_OF_COUNT[count]
    q = source.counts[count]
    rows = source_rows(source, user=user, period=period, scope=scope)
    if q is not None:
        rows = rows.filter(q)
    if source.model is Ticket:
        return rows
    return Ticket.objects.filter(pk__in=rows.values("ticket_id"))


# --------------------------------------------------------------------------- backlog

AGE_BANDS = (
    ("lt1d", _("1天内"), 0, 1),
    ("1to3d", _("1-3天"), 1, 3),
    ("3to7d", _("3-7天"), 3, 7),
    ("gt7d", _("7天以上"), 7, None),
)


def backlog_tickets(*, user, scope: Scope | None = None) -> QuerySet[Ticket]:
    """Open orders in scope, as the user sees them (backlog is 'now', not a period)."""
    source = SOURCES[0]
    qs = _visible(source, Ticket.objects.open(), user)
    return _scoped(source, qs, scope or Scope())


def age_band_q(band: str, now: datetime) -> Q:
    for code, _label, lo, hi in AGE_BANDS:
        if code == band:
            q = Q(reported_at__lte=now - timedelta(days=lo))
            if hi is not None:
                q &= Q(reported_at__gt=now - timedelta(days=hi))
            return q
    raise ValueError(band)


def _backlog_parts(*, user, scope: Scope | None) -> list[QuerySet[Ticket]]:
    """`backlog_tickets` in disjoint parts, each answered from an index over open orders: for
    a user who sees whole departments (a lead, a handler: `visibility_parts`), their open
    orders (`ticket_open_dept`, by department) and, apart, the few others he sees (co-handled
    or his own, outside those departments); one condition joining both by OR read every open
    order's row. Otherwise the one queryset."""
    if user is not None and not sees_all_tickets(user):
        ids = wholly_visible_department_ids(user)
        if ids is not None:
            source, scope = SOURCES[0], scope or Scope()
            whole = Ticket.objects.open().filter(department_id__in=ids)
            rest = tickets_visible_outside_departments(user, Ticket.objects.open())
            return [_scoped(source, whole, scope), _scoped(source, rest, scope)]
    return [backlog_tickets(user=user, scope=scope)]


def backlog(*, user, scope: Scope | None = None, now: datetime | None = None) -> dict:
    """Open orders by state and age band, and open orders breached now (`breached_tickets`
    lists the same orders). Two queries per part (`_backlog_parts`), each answered from an
    index over open orders only, whatever the number of closed ones: the counts per state and
    band read `ticket_open_age` (an index-only scan for a user who sees every order) or
    `ticket_open_dept` (a lead's departments), and the breached count joins the open orders'
    promise clocks to the running ones (`clock_running_ids`)."""
    now = now or timezone.now()
    older = [code for code, *_rest in AGE_BANDS[1:]]
    table = {s: {b[0]: 0 for b in AGE_BANDS} for s in State.values}
    breached = 0
    for qs in _backlog_parts(user=user, scope=scope):
        counts = (
            qs.values("state")
            .annotate(
                n=Count("pk"),
                **{f"b_{c}": Count("pk", filter=age_band_q(c, now)) for c in older},
            )
            .order_by()
        )
        for r in counts:
            bands = table[r["state"]]
            for c in older:
                bands[c] += r[f"b_{c}"]
            # The first band takes the rest, as a CASE with it as the default would.
            bands[AGE_BANDS[0][0]] += r["n"] - sum(r[f"b_{c}"] for c in older)
        breached += qs.filter(sla_status_q(SlaStatus.BREACHED, now)).count()
    by_state = [
        {
            "state": s,
            "label": str(State(s).label),
            "bands": table[s],
            "total": sum(table[s].values()),
        }
        for s in OPEN_STATES
    ]
    return {
        "by_state": by_state,
        "total": sum(r["total"] for r in by_state),
        "breached": breached,
        "bands": [(code, str(label)) for code, label, *_rest in AGE_BANDS],
    }


def breached_tickets(*, user, scope: Scope | None = None, now: datetime | None = None):
    """Open orders breached now, most overdue first: the order of `ticket_open_due`, so a page
    of them is read from the index until it is full (no sort of every breached order)."""
    qs = backlog_tickets(user=user, scope=scope)
    qs = filter_sla_status(qs, SlaStatus.BREACHED, now=now or timezone.now())
    return qs.order_by("promise_due_at", "pk")


# --------------------------------------------------------------------------- 申诉率


def regulator_rate(*, user, period: Period, scope: Scope | None = None) -> dict:
    """申诉率: regulator complaints reported in the period per million subscribers, overall
    and per region. The subscribers of a region are its average over the months of the period
    that have a count (reference data, `SubscriberCount`); regions without a count have no
    rate. Both sides are counted in SQL."""
    from .models import SubscriberCount

    scope = scope or Scope()
    source = SOURCE_OF_COUNT["regulator"]
    orders = dict(
        source_rows(source, user=user, period=period, scope=scope)
        .filter(is_regulator=True)
        .values_list("customer_region")
        .annotate(n=Count("id"))
        .values_list("customer_region", "n")
    )
    first = period.first_day.replace(day=1)
    counts = SubscriberCount.objects.filter(month__gte=first, month__lte=period.last_day)
    if scope.region:
        counts = counts.filter(region=scope.region)
    subscribers = dict(
        counts.values("region").annotate(avg=Avg("subscribers")).values_list("region", "avg")
    )

    def per_million(n: int, subs) -> float | None:
        return round(n * 1_000_000 / float(subs), 2) if subs else None

    regions = [
        {
            "region": region,
            "regulator": orders.get(region, 0),
            "subscribers": int(subs),
            "per_million": per_million(orders.get(region, 0), subs),
        }
        for region, subs in sorted(subscribers.items())
    ]
    total_subs = sum(subscribers.values())
    total = sum(orders.values())
    return {
        "regulator": total,
        "subscribers": int(total_subs),
        "per_million": per_million(total, total_subs),
        "regions": regions,
    }
