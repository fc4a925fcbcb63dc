"""Work orders (工单) and the records on them. Transitions change the state and same-row
fields only; permissions, audit rows and clocks live in `services.py`."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Right
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import ConcurrentTransition, ConcurrentTransitionMixin, FSMField, transition

from accounts.copies import ReferenceQuerySet
from workorders.permissions import acting_role
from workorders.phones import phone_validator


class Urgency(models.TextChoices):
    GENERAL = "general", _("一般")
    URGENT = "urgent", _("紧急")


class Channel(models.TextChoices):
    """Where the complaint came in (DESIGN.md §11)."""

    FIELD = "field", _("装维现场")
    COUNTER = "counter", _("营业厅")
    HOTLINE = "hotline", _("10010热线")
    ONLINE = "online", _("线上渠道")
    APP = "app", _("手机营业厅APP")
    SOCIAL = "social", _("社交媒体")
    REGULATOR = "regulator", _("监管申诉")
    OTHER = "other", _("其他")


class State(models.TextChoices):
    REPORTED = "reported", _("已吹哨/待派单")
    DISPATCHED = "dispatched", _("已派单/待签收")
    RETURN_REQUESTED = "return_requested", _("退单待裁定")
    ACCEPTED = "accepted", _("已报到/处理中")
    SUSPENDED = "suspended", _("挂起")
    REPLIED = "replied", _("已回复/待回访")
    CLOSED = "closed", _("已办结")
    CANCELLED = "cancelled", _("已作废")


class Stage(models.TextChoices):
    DISCOVER = "discover", _("发现")
    DISPATCH = "dispatch", _("派单")
    HANDLE = "handle", _("处置")
    CLOSE = "close", _("办结")


STAGE_OF_STATE = {
    State.REPORTED: Stage.DISCOVER,
    State.DISPATCHED: Stage.DISPATCH,
    State.RETURN_REQUESTED: Stage.DISPATCH,
    State.ACCEPTED: Stage.HANDLE,
    State.SUSPENDED: Stage.HANDLE,
    State.REPLIED: Stage.CLOSE,
    State.CLOSED: Stage.CLOSE,
    State.CANCELLED: Stage.CLOSE,
}
STATES_OF_STAGE = {
    stage: [s for s, st in STAGE_OF_STATE.items() if st == stage] for stage in Stage.values
}
OPEN_STATES = [s for s in State.values if s not in (State.CLOSED, State.CANCELLED)]


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY = "basically", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class VisitChannel(models.TextChoices):
    """How the customer's verdict was taken (DESIGN.md §9)."""

    PHONE = "phone", _("电话回访")
    SMS_SURVEY = "sms_survey", _("短信满意度调查")
    ON_THE_SPOT = "on_the_spot", _("现场回访")


class VisitOutcome(models.TextChoices):
    SUCCESS = "success", _("回访成功")
    UNREACHABLE = "unreachable", _("三次未接通")
    NOT_REACHED = "not_reached", _("超时未回访")


class ReturnRuling(models.TextChoices):
    UPHELD = "upheld", _("退单成立")
    REJECTED = "rejected", _("退单驳回")


class CauseCategory(models.TextChoices):
    NETWORK = "network", _("网络原因")
    SYSTEM = "system", _("系统原因")
    BUSINESS = "business", _("业务规则")
    STAFF = "staff", _("人员服务")
    CUSTOMER = "customer", _("客户原因")
    THIRD_PARTY = "third_party", _("第三方原因")
    OTHER = "other", _("其他")


class Category(models.Model):
    """Two-level complaint category. A leaf may carry routing: a default department and
    whether orders of this category are dispatched there automatically on report."""

    name = models.CharField(_("名称"), max_length=64)
    code = models.SlugField(_("代码"), max_length=32, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级分类"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    default_urgency = models.CharField(
        _("默认紧急程度"), max_length=8, choices=Urgency.choices, default=Urgency.GENERAL
    )
    default_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("默认处理部门"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    auto_dispatch = models.BooleanField(
        _("自动派单"), default=False, help_text=_("报单时直接派往默认处理部门。")
    )
    sort_order = models.PositiveIntegerField(_("排序"), default=100)
    is_active = models.BooleanField(_("启用"), default=True)
    # Mass faults (faults app): orders of this category may be grouped into a 群障.
    clusterable = models.BooleanField(
        _("可聚类(群障)"),
        default=False,
        help_text=_("同一区域短时间内多张此类工单时，系统提示疑似群障。"),
    )

    # Bulk writes clear the per-process copy too (services.intake.CATEGORIES).
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("问题分类")
        verbose_name_plural = _("问题分类")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name

    @property
    def path_display(self) -> str:
        return str(self)


def _trans_perm(name: str):
    def check(instance: Ticket, user) -> bool:
        return acting_role(user, name, instance) is not None

    check.__name__ = f"may_{name}"
    return check


class TicketQuerySet(models.QuerySet):
    def open(self):
        return self.filter(state__in=OPEN_STATES)

    def with_sla(self, now=None):
        from sla.selectors import annotate_sla_status

        return annotate_sla_status(self, now=now)

    def by_priority(self):
        """Urgent first, then VIP/elderly/claimed-escalation/repeat, then nearest due time."""
        return self.order_by("-is_urgent", "-is_priority", "promise_due_at", "id")

    def awaiting_regulator_signoff(self, *, negate: bool = False):
        """Regulator complaints whose reply a supervisor has not signed off: they cannot close
        (workorders.services.regulator_close_check), so no one is asked for a verdict yet.
        With `negate`, every other order."""
        q = models.Q(is_regulator=True, regulator_signed_off_at__isnull=True)
        return self.exclude(q) if negate else self.filter(q)


class Ticket(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(_("工单号"), max_length=16, unique=True, editable=False)
    channel = models.CharField(
        _("受理渠道"), max_length=16, choices=Channel.choices, default=Channel.FIELD
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("吹哨人"),
        on_delete=models.PROTECT,
        related_name="reported_tickets",
    )
    reporter_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("吹哨人部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reported_at = models.DateTimeField(_("报单时间"), db_index=True)
    # 发现时间: when the reporter pressed submit, if that was earlier than the report reached
    # us (a phone without network keeps the form and sends it later). Null: same as reported_at.
    found_at = models.DateTimeField(_("发现时间"), null=True, blank=True)

    # Customer (DESIGN.md §5). The phone is stored whole and masked on output.
    customer_name = models.CharField(_("客户姓名"), max_length=64, blank=True)
    customer_phone = models.CharField(
        _("客户电话"), max_length=20, validators=[phone_validator], db_index=True
    )
    customer_address = models.CharField(_("地址"), max_length=200, blank=True)
    customer_region = models.CharField(_("归属地区"), max_length=32, blank=True, db_index=True)
    star_level = models.PositiveSmallIntegerField(
        _("星级"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    is_elderly = models.BooleanField(_("老年客户(65+)"), default=False)
    claimed_escalation = models.BooleanField(
        _("声称升级"), default=False, help_text=_("客户声称将投诉至10015/12300/媒体")
    )
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)

    # Channel intake (another system filed it): its own id for the contact, unique per channel,
    # and the agent who took the contact there.
    external_id = models.CharField(_("渠道工单号"), max_length=64, blank=True)
    intake_agent = models.CharField(_("渠道坐席"), max_length=64, blank=True)

    # Regulator track (监管申诉): filed by the regulator channel or marked afterwards (then
    # `regulator_marked_at` is set: 越级). Closing needs a supervisor's sign-off first.
    is_regulator = models.BooleanField(_("监管申诉"), default=False, db_index=True)
    regulator_marked_at = models.DateTimeField(_("标记申诉时间"), null=True, blank=True)
    regulator_signed_off_at = models.DateTimeField(_("督办签字时间"), null=True, blank=True)
    regulator_signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("督办签字人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    # The matter.
    category = models.ForeignKey(
        Category, verbose_name=_("问题分类"), on_delete=models.PROTECT, related_name="tickets"
    )
    urgency = models.CharField(
        _("紧急程度"), max_length=8, choices=Urgency.choices, default=Urgency.GENERAL
    )
    urgency_reason = models.CharField(_("紧急程度调整原因"), max_length=200, blank=True)
    is_urgent = models.BooleanField(default=False, editable=False)
    is_priority = models.BooleanField(
        default=False, editable=False, help_text="VIP, elderly, claimed escalation or repeat"
    )
    title = models.CharField(_("标题"), max_length=120, blank=True)
    description = models.TextField(_("问题描述"))

    state = FSMField(
        _("状态"), default=State.REPORTED, choices=State.choices, protected=True, db_index=True
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    # Dispatch and handling.
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("责任部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    co_departments = models.ManyToManyField(
        "accounts.Department",
        verbose_name=_("协办部门"),
        through="CoHandling",
        related_name="co_tickets",
        blank=True,
    )
    dispatched_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("派单人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    claimed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("签收人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handled_tickets",
    )
    return_count = models.PositiveIntegerField(_("退单次数"), default=0)
    return_rejected_count = models.PositiveIntegerField(_("退单驳回次数"), default=0)
    last_return_reason = models.CharField(_("最近退单原因"), max_length=500, blank=True)
    last_return_ruling = models.CharField(
        _("最近退单裁定"), max_length=16, choices=ReturnRuling.choices, blank=True
    )
    redispatch_count = models.PositiveIntegerField(_("转派次数"), default=0)
    suspended_until = models.DateTimeField(_("挂起至"), null=True, blank=True, db_index=True)
    suspension_count = models.PositiveIntegerField(_("挂起次数"), default=0)
    extension_count = models.PositiveIntegerField(_("延期次数"), default=0)

    # Reply.
    replied_at = models.DateTimeField(_("回复时间"), null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("回复人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reply_result = models.TextField(_("处理结果"), blank=True)
    reply_cause = models.CharField(
        _("原因分类"), max_length=16, choices=CauseCategory.choices, blank=True
    )
    reply_resolved = models.BooleanField(_("自评已解决"), null=True, blank=True)
    # The handler's words for the customer (the status page shows these, never reply_result).
    public_reply = models.TextField(_("答复客户"), blank=True)

    # Visit and close.
    visit_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    visit_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("回访人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    visit_outcome = models.CharField(
        _("回访结果"), max_length=16, choices=VisitOutcome.choices, blank=True
    )
    visit_resolved = models.BooleanField(_("客户确认已解决"), null=True, blank=True)
    visit_satisfaction = models.CharField(
        _("满意度"), max_length=16, choices=Satisfaction.choices, blank=True
    )
    visit_note = models.CharField(_("回访备注"), max_length=500, blank=True)
    visit_channel = models.CharField(
        _("回访渠道"), max_length=16, choices=VisitChannel.choices, blank=True
    )
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True, db_index=True)
    redo_count = models.PositiveIntegerField(_("重办次数"), default=0)

    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("作废原因"), max_length=500, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("重复于"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # Repeat complaints (DESIGN.md §5).
    is_repeat = models.BooleanField(_("重复投诉"), default=False)
    repeat_of = models.ForeignKey(
        "self",
        verbose_name=_("前次工单"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repeats",
    )

    chase_count = models.PositiveIntegerField(_("催办次数"), default=0)
    supervise_count = models.PositiveIntegerField(_("督办次数"), default=0)
    escalation_level = models.PositiveSmallIntegerField(_("升级级别"), default=0)
    # 越级投诉预警: 0–100 from the active RiskRules, kept by services.ticket_risk_refresh;
    # `risk_alerted_at` is set once, when the score first reaches RISK_ALERT_THRESHOLD.
    risk_score = models.PositiveSmallIntegerField(_("越级风险"), default=0, db_index=True)
    risk_alerted_at = models.DateTimeField(_("越级预警时间"), null=True, blank=True)

    # The customer's clock, denormalised for sorting and filtering lists in SQL. The clock
    # service keeps these in step with sla.Clock(kind=promise).
    promise_clock = models.OneToOneField(
        "sla.Clock", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promise_due_at = models.DateTimeField(_("承诺时限"), null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = pgettext_lazy("plural", "工单")
        ordering = ["-reported_at"]
        indexes = [
            models.Index(
                fields=["-is_urgent", "-is_priority", "promise_due_at", "id"],
                name="ticket_priority",
            ),
            models.Index(fields=["department", "state"], name="ticket_dept_state"),
            models.Index(fields=["reporter", "-reported_at"], name="ticket_reporter_recent"),
            models.Index(
                fields=["customer_phone", "category", "reported_at"], name="ticket_repeat"
            ),
            models.Index(fields=["state", "promise_due_at"], name="ticket_state_due"),
            # The back office's default queue (issue 16): open work by time left; read in
            # index order until a page is full, whatever the size of the table.
            models.Index(
                fields=["promise_due_at", "id"],
                condition=models.Q(state__in=OPEN_STATES),
                name="ticket_open_due",
            ),
            # The KPI page's backlog (issue 17): open orders by state and age, and their
            # promise clocks, read from the index alone whatever the number of closed orders.
            models.Index(
                fields=["state", "reported_at", "promise_clock"],
                condition=models.Q(state__in=OPEN_STATES),
                name="ticket_open_age",
            ),
            # The same for a lead or handler (`reports.kpis._backlog_parts`): his departments'
            # open orders, from the index alone.
            models.Index(
                fields=["department", "state", "reported_at", "promise_clock"],
                condition=models.Q(state__in=OPEN_STATES),
                name="ticket_open_dept",
            ),
            # 已结束 and 全部 (?queue=done|all) in the same order: without it PostgreSQL sorted
            # every order of the list (4–5 s at 1,000,000 orders).
            models.Index(fields=["promise_due_at", "id"], name="ticket_due"),
            # Back office (issue 6): search by the phone's last four digits; escalated orders.
            models.Index(Right("customer_phone", 4), name="ticket_phone_last4"),
            models.Index(
                fields=["escalation_level"],
                name="ticket_escalated",
                condition=models.Q(escalation_level__gt=0),
            ),
        ]
        constraints = [
            # The same contact filed twice by a channel system is one order.
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="ticket_channel_external_id",
            ),
        ]
        permissions = [
            ("report_ticket", "Can report (吹哨)"),
            ("view_all_tickets", "Can see every order"),
            ("view_full_phone", "Can see customer phone numbers in full"),
            ("dispatch_ticket", "Can dispatch and re-dispatch"),
            ("rule_return", "Can rule on returns"),
            ("review_reply", "Can reject a reply"),
            ("visit_ticket", "Can do return visits and close"),
            ("visit_on_spot", "Can record the customer's verdict on the spot"),
            ("propose_redo", "Can propose a redo"),
            ("confirm_redo", "Can confirm a redo"),
            ("cancel_ticket", "Can cancel"),
            ("change_urgency", "Can change urgency"),
            ("claim_ticket", "Can sign for (claim)"),
            ("assign_ticket", "Can assign a handler"),
            ("request_return", "Can request a return"),
            ("request_cohandling", "Can request co-handling"),
            ("request_suspension", "Can request suspension"),
            ("approve_suspension", "Can approve suspension"),
            ("request_extension", "Can request extension"),
            ("approve_extension", "Can approve extension"),
            ("resume_ticket", "Can resume a suspended order"),
            ("reply_ticket", "Can reply"),
            ("supervise_ticket", "Can supervise (督办)"),
            ("chase_ticket", "Can chase (催办)"),
            ("comment_ticket", "Can comment and add photos"),
            ("view_reports", "Can view reports"),
            ("export_tickets", "Can export orders"),
            ("intake_ticket", "Can file orders for its own channel (channel systems)"),
            ("lookup_customer", "Can look up a customer's orders by phone"),
            ("mark_regulator", "Can mark an order as a regulator complaint (申诉)"),
            ("signoff_regulator", "Can sign off a regulator complaint before it closes"),
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._remember_version()

    def __str__(self) -> str:
        return self.number

    # Derived flags (for the priority index) and the fields they are computed from.
    DERIVED_FROM = {
        "is_urgent": {"urgency"},
        "is_priority": {"star_level", "is_elderly", "claimed_escalation", "is_repeat"},
    }

    def save(self, *args, **kwargs) -> None:
        self._derive_flags()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            # A partial save of a source field saves its derived flag too, or it goes stale.
            fields = set(update_fields)
            for derived, sources in self.DERIVED_FROM.items():
                if fields & sources:
                    fields.add(derived)
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)
        self._remember_version()

    def _derive_flags(self) -> None:
        self.is_urgent = self.urgency == Urgency.URGENT
        self.is_priority = bool(
            (self.star_level or 0) >= 5
            or self.is_elderly
            or self.claimed_escalation
            or self.is_repeat
        )

    # What save() does around the write, for an insert that does not go through it
    # (accounts.statements.RowInsert, the report's).
    def before_insert(self) -> None:
        self._derive_flags()

    def after_insert(self) -> None:
        self._update_initial_state()
        self._remember_version()

    # Optimistic locking on the version as well as the state (django-fsm's mixin guards only
    # the state, so a same-state change such as a re-dispatch would overwrite silently): every
    # UPDATE of an order names the version this instance was read at, and a row that moved on
    # since matches nothing and raises ConcurrentTransition. The services turn that into
    # Conflict; they also lock the row first, so this is the net under a path that forgot.
    def _remember_version(self) -> None:
        # Not `self.version`: on an instance loaded with .only() that would cost a query.
        self._read_version = self.__dict__.get("version")

    def _do_update(self, base_qs, using, pk_val, *args, **kwargs):
        if self._read_version is None:
            return super()._do_update(base_qs, using, pk_val, *args, **kwargs)
        guarded = base_qs.filter(version=self._read_version)
        updated = super()._do_update(guarded, using, pk_val, *args, **kwargs)
        if not updated and base_qs.filter(pk=pk_val).using(using).exists():
            raise ConcurrentTransition("The order has changed since it was read.")
        return updated

    def refresh_from_db(self, *args, **kwargs) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._remember_version()

    @property
    def stage(self) -> str:
        return STAGE_OF_STATE[self.state]

    @property
    def is_vip(self) -> bool:
        return (self.star_level or 0) >= 5

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def awaits_regulator_signoff(self) -> bool:
        """See TicketQuerySet.awaiting_regulator_signoff."""
        return self.is_regulator and self.regulator_signed_off_at is None

    @property
    def summary(self) -> str:
        return self.title or (self.description[:40] + ("…" if len(self.description) > 40 else ""))

    # --- transitions (DESIGN.md §3). Same-row changes only. ---

    @transition(
        field=state,
        source=State.REPORTED,
        target=State.DISPATCHED,
        permission=_trans_perm("dispatch"),
    )
    def dispatch(self, *, department, by, now) -> None:
        self.department = department
        self.dispatched_at = now
        self.dispatched_by = by

    @transition(
        field=state, source=State.DISPATCHED, target=State.ACCEPTED, permission=_trans_perm("claim")
    )
    def claim(self, *, by, now, handler=None) -> None:
        self.claimed_at = now
        self.claimed_by = by
        if handler is not None:
            self.handler = handler

    @transition(
        field=state,
        source=[State.DISPATCHED, State.ACCEPTED],
        target=State.RETURN_REQUESTED,
        permission=_trans_perm("request_return"),
    )
    def request_return(self, *, reason) -> None:
        self.return_count += 1
        self.last_return_reason = reason
        self.last_return_ruling = ""

    @transition(
        field=state,
        source=State.RETURN_REQUESTED,
        target=State.DISPATCHED,
        permission=_trans_perm("rule_return"),
    )
    def rule_return(self, *, ruling, department, by, now) -> None:
        self.last_return_ruling = ruling
        if ruling == ReturnRuling.REJECTED:
            self.return_rejected_count += 1
        self.department = department
        self.handler = None
        self.claimed_at = None
        self.claimed_by = None
        self.dispatched_at = now
        self.dispatched_by = by

    @transition(
        field=state,
        source=[State.DISPATCHED, State.ACCEPTED],
        target=State.DISPATCHED,
        permission=_trans_perm("redispatch"),
    )
    def redispatch(self, *, department, by, now) -> None:
        self.redispatch_count += 1
        self.department = department
        self.handler = None
        self.claimed_at = None
        self.claimed_by = None
        self.dispatched_at = now
        self.dispatched_by = by

    @transition(
        field=state,
        source=State.ACCEPTED,
        target=State.SUSPENDED,
        permission=_trans_perm("suspend"),
    )
    def suspend(self, *, until) -> None:
        self.suspended_until = until
        self.suspension_count += 1

    @transition(
        field=state, source=State.SUSPENDED, target=State.ACCEPTED, permission=_trans_perm("resume")
    )
    def resume(self) -> None:
        self.suspended_until = None

    @transition(
        field=state, source=State.ACCEPTED, target=State.REPLIED, permission=_trans_perm("reply")
    )
    def reply(self, *, result, cause, resolved, by, now, public_reply="") -> None:
        self.reply_result = result
        self.public_reply = public_reply
        self.reply_cause = cause
        self.reply_resolved = resolved
        self.replied_at = now
        self.replied_by = by

    @transition(
        field=state,
        source=State.REPLIED,
        target=State.ACCEPTED,
        permission=_trans_perm("reject_reply"),
    )
    def reject_reply(self) -> None:
        self.replied_at = None
        self._void_regulator_signoff()

    @transition(
        field=state, source=State.REPLIED, target=State.CLOSED, permission=_trans_perm("close")
    )
    def close(self, *, outcome, resolved, satisfaction, note, by, now, channel="") -> None:
        self.visit_outcome = outcome
        self.visit_channel = channel
        self.visit_resolved = resolved
        self.visit_satisfaction = satisfaction or ""
        self.visit_note = note
        self.visit_at = now
        self.visit_by = by
        self.closed_at = now

    @transition(
        field=state, source=State.REPLIED, target=State.ACCEPTED, permission=_trans_perm("redo")
    )
    def redo(self) -> None:
        self.redo_count += 1
        self.replied_at = None
        self._void_regulator_signoff()

    def _void_regulator_signoff(self) -> None:
        # A sign-off is for the reply it read; a new reply needs a new one.
        self.regulator_signed_off_at = None
        self.regulator_signed_off_by = None

    @transition(
        field=state,
        source=[State.REPORTED, State.DISPATCHED],
        target=State.CANCELLED,
        permission=_trans_perm("cancel"),
    )
    def cancel(self, *, reason, duplicate_of, now) -> None:
        self.cancel_reason = reason
        self.duplicate_of = duplicate_of
        self.cancelled_at = now


class TicketSequence(models.Model):
    """Per-day counter behind GD+YYYYMMDD+NNNNNN; incremented with a row-locking UPDATE."""

    day = models.DateField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class CategoryUsage(models.Model):
    """How many orders a person reported in a category in a month (local time): a small
    roll-up written by the report service in the order's own transaction, so the report form
    can put a person's usual categories first without counting orders."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # the first day of the month
    count = models.PositiveIntegerField(default=0)
    last_used = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "month", "category"], name="category_usage_unique"
            )
        ]
        indexes = [models.Index(fields=["month", "category"], name="category_usage_month")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.category_id} {self.month}: {self.count}"


class CoHandling(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="cohandlings")
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("协办部门"), on_delete=models.PROTECT
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("协办")
        verbose_name_plural = _("协办")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "department"], name="cohandling_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} → {self.department_id}"


class AuditEntry(models.Model):
    """One row per transition (and per action that changes who owns the order): the record.

    Written only by `services.py`, inside the same database transaction as the change.
    A typed FK (rather than django-fsm-log's generic relation) keeps KPI joins and the
    transition-log export a plain indexed join, and lets us store the acting role.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="audit")
    transition = models.CharField(_("动作"), max_length=32, db_index=True)
    source = models.CharField(_("原状态"), max_length=20, choices=State.choices)
    target = models.CharField(_("新状态"), max_length=20, choices=State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_role = models.CharField(_("角色"), max_length=16)
    at = models.DateTimeField(_("时间"), db_index=True)
    comment = models.TextField(_("说明"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("流转记录")
        verbose_name_plural = pgettext_lazy("plural", "流转记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="audit_ticket_at")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.transition} {self.source}→{self.target}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("已驳回")


class ExtensionRequest(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    hours = models.PositiveIntegerField(
        _("延期小时数"), validators=[MinValueValidator(1), MaxValueValidator(24 * 30)]
    )
    reason = models.CharField(_("延期原因"), max_length=500)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("延期申请")
        verbose_name_plural = pgettext_lazy("plural", "延期申请")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"+{self.hours}h ({self.get_status_display()})"


class SuspensionReason(models.TextChoices):
    UNREACHABLE = "unreachable", _("客户联系不上")
    APPOINTMENT = "appointment", _("客户预约上门时间")
    MISSING_DOCUMENTS = "missing_documents", _("客户资料不全")
    OTHER_CUSTOMER = "other_customer", _("其他客户原因")


class SuspensionRequest(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="suspensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    reason = models.CharField(_("挂起原因"), max_length=32, choices=SuspensionReason.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    until = models.DateTimeField(_("挂起至"))
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("挂起申请")
        verbose_name_plural = pgettext_lazy("plural", "挂起申请")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.get_status_display()})"


class RedoProposal(models.Model):
    """An unsatisfied visit proposes a redo; a supervisor confirms it (the `redo` transition)
    or declines it (the order closes with the recorded visit)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="redo_proposals")
    # None: the customer's own verdict (the status page's survey).
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=VisitChannel.choices, blank=True)
    proposed_at = models.DateTimeField()
    reason = models.CharField(_("重办原因"), max_length=500)
    visit_resolved = models.BooleanField(null=True)
    visit_satisfaction = models.CharField(max_length=16, choices=Satisfaction.choices, blank=True)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("重办申请")
        verbose_name_plural = _("重办申请")
        ordering = ["-proposed_at"]

    def __str__(self) -> str:
        return f"{self.reason} ({self.get_status_display()})"


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("内容"))
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("备注")
        verbose_name_plural = _("备注")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:40]


def attachment_path(instance: Attachment, filename: str) -> str:
    # Random names: nothing about the customer leaks through a URL or a directory listing.
    ext = PurePosixPath(filename).suffix.lower()[:8]
    return f"attachments/{instance.ticket_id}/{uuid.uuid4().hex}{ext}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=200)
    # A small JPEG for lists and timelines (workorders.images.thumbnail); blank for a photo
    # stored before thumbnails were made, until `attachments_thumbnails` runs.
    thumbnail = models.FileField(_("缩略图"), upload_to=attachment_path, max_length=200, blank=True)
    original_name = models.CharField(_("原文件名"), max_length=200)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("图片")
        verbose_name_plural = pgettext_lazy("plural", "图片")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class Chase(models.Model):
    """催办: someone presses the department to act."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="chases")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("催办说明"), max_length=500, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("催办")
        verbose_name_plural = _("催办")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"催办 {self.created_at:%Y-%m-%d %H:%M}"


class Supervision(models.Model):
    """督办: a supervisor's note on an order."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="supervisions")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("督办意见"), max_length=500)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("督办")
        verbose_name_plural = _("督办")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.note[:40]


class IdempotencyRecord(models.Model):
    """A client's one-time key for a write (report form, API POST). The same key and the same
    request again returns the first result; the same key with another request is refused."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key")]

    def __str__(self) -> str:
        return self.key


class ChannelAccount(models.Model):
    """A service account of a channel system (hotline CTI, online service, app, social desk,
    regulator transfer): the user it logs in as and the one channel it may file orders for.
    Kept here, not on accounts.User: accounts knows nothing of tickets."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="channel_account",
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)

    class Meta:
        verbose_name = _("渠道接入账号")
        verbose_name_plural = _("渠道接入账号")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_channel_display()})"


class RiskRule(models.Model):
    """One rule of the escalation-risk score (越级投诉预警): while its condition holds on an
    open order, it adds its points (the sum is capped at 100). The conditions are fixed by
    `code` (workorders.services.risk); labels, points and whether a rule counts are data."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    label = models.CharField(_("名称"), max_length=64)
    points = models.PositiveSmallIntegerField(_("分值"))
    active = models.BooleanField(_("生效"), default=True)

    # Bulk writes invalidate the per-process copy of the rules (services.risk).
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("越级风险规则")
        verbose_name_plural = _("越级风险规则")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.label} (+{self.points})"


class ReplyTemplate(models.Model):
    """回复模板: a department's prepared reply for a category and cause. The reply forms offer
    the templates that match the order (its department or a line above it, its category or
    the category's group, or any); picking one fills cause, result and public reply."""

    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("所属部门"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("问题分类"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("留空表示适用于所有分类；选择上级分类时适用于其下所有分类。"),
    )
    cause = models.CharField(_("原因分类"), max_length=16, choices=CauseCategory.choices)
    title = models.CharField(_("模板名称"), max_length=64)
    result = models.TextField(_("处理结果"), max_length=2000)
    public_reply = models.TextField(_("答复客户"), max_length=1000, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=100)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("回复模板")
        verbose_name_plural = pgettext_lazy("plural", "回复模板")
        ordering = ["sort_order", "id"]
        indexes = [models.Index(fields=["department", "is_active"], name="replytpl_dept_active")]

    def __str__(self) -> str:
        return self.title


class HandlerSkill(models.Model):
    """A category a handler works (a group covers its sub-categories). Auto-assignment picks
    only among the handlers skilled in the order's category."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        on_delete=models.CASCADE,
        related_name="skills",
    )
    category = models.ForeignKey(
        Category, verbose_name=_("问题分类"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("处理人技能")
        verbose_name_plural = pgettext_lazy("plural", "处理人技能")
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="handlerskill_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.category}"


class AutoAssignRule(models.Model):
    """自动指派 for one department (off unless switched on): an order dispatched to the
    department, or claimed without naming a handler, goes to the skilled handler of the
    department with the least open work."""

    department = models.OneToOneField(
        "accounts.Department",
        verbose_name=_("部门"),
        on_delete=models.CASCADE,
        related_name="auto_assign_rule",
    )
    enabled = models.BooleanField(_("启用自动指派"), default=False)

    class Meta:
        verbose_name = _("自动指派规则")
        verbose_name_plural = pgettext_lazy("plural", "自动指派规则")

    def __str__(self) -> str:
        return str(self.department)
