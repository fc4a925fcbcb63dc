"""Serializers: shapes only. Validation that matters (phone format, reasons, states, rights)
lives in the services; these check types and sizes so bad input is a 400, never a 500."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Department, User
from sla.models import ClockKind, SlaStatus
from sla.reference import category_name
from sla.selectors import clock_rule_text, promise_remaining
from workorders.models import (
    Attachment,
    CauseCategory,
    Channel,
    Chase,
    Comment,
    ExtensionRequest,
    RequestStatus,
    Satisfaction,
    Stage,
    State,
    Supervision,
    SuspensionReason,
    SuspensionRequest,
    Urgency,
    VisitOutcome,
)
from workorders.permissions import can_see_full_phone, mask_phone
from workorders.services import category_by_ref, routing_department

MAX_ID = 2**63 - 1


class SafePrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key that must be a positive 64-bit integer before it reaches the database."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            value = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= value <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(value)


# --------------------------------------------------------------------------- small shapes


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class DepartmentBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()


class CategoryBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    path = serializers.CharField(source="path_display")

    def to_representation(self, category):
        # The parent's name from the per-process copy: callers need not load the parent.
        return _category_brief(category)


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "code", "kind", "parent", "path", "is_active"]


class CategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    path = serializers.CharField(source="path_display")
    default_urgency = serializers.ChoiceField(choices=Urgency.choices)
    is_active = serializers.BooleanField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()
    department = DepartmentBriefSerializer(allow_null=True)
    language = serializers.CharField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username

    def get_roles(self, user) -> list[str]:
        return sorted(user.roles)


# --------------------------------------------------------------------------- orders


class CustomerSerializer(serializers.Serializer):
    name = serializers.CharField(source="customer_name")
    phone = serializers.SerializerMethodField()
    phone_masked = serializers.SerializerMethodField()
    region = serializers.CharField(source="customer_region")
    star_level = serializers.IntegerField(allow_null=True)
    is_vip = serializers.BooleanField()
    is_elderly = serializers.BooleanField()
    claimed_escalation = serializers.BooleanField()

    def get_phone(self, ticket) -> str:
        user = self.context["request"].user
        if can_see_full_phone(user, ticket):
            return ticket.customer_phone
        return mask_phone(ticket.customer_phone)

    def get_phone_masked(self, ticket) -> bool:
        return not can_see_full_phone(self.context["request"].user, ticket)


class CustomerDetailSerializer(CustomerSerializer):
    address = serializers.CharField(source="customer_address")


class TicketListSerializer(serializers.Serializer):
    number = serializers.CharField()
    summary = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    state_display = serializers.CharField(source="get_state_display")
    stage = serializers.ChoiceField(choices=Stage.choices)
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    category = CategoryBriefSerializer()
    department = DepartmentBriefSerializer(allow_null=True)
    handler = UserBriefSerializer(allow_null=True)
    reporter = UserBriefSerializer()
    customer = CustomerSerializer(source="*")
    is_repeat = serializers.BooleanField()
    is_priority = serializers.BooleanField()
    is_regulator = serializers.BooleanField()
    risk_score = serializers.IntegerField(help_text="越级风险 0–100 (escalation-risk score).")
    reported_at = serializers.DateTimeField()
    promise_due_at = serializers.DateTimeField(allow_null=True)
    sla_status = serializers.ChoiceField(choices=SlaStatus.choices, allow_null=True)
    sla_remaining_seconds = serializers.SerializerMethodField()

    def get_sla_remaining_seconds(self, ticket) -> int | None:
        """Working seconds when the promise clock counts a business calendar."""
        remaining, _working = promise_remaining(ticket)
        return None if remaining is None else int(remaining.total_seconds())

    def to_representation(self, t):
        """The declared fields above, written out: DRF's generic walk (a deep copy of the
        fields per serializer, field lookups, nested serializers, per-field None checks) and
        `get_state_display` (which rebuilds the choices each call) cost about 1 ms per row,
        most of a page's time. Same keys, order and values: tests/api/test_list_representation.py
        compares the two for varied orders and roles. The declarations stay for the schema."""
        user = self.context["request"].user
        full_phone = can_see_full_phone(user, t)
        category, department, handler = t.category, t.department, t.handler
        return {
            "number": str(t.number),
            "summary": str(t.summary),
            "state": _STATE.to_representation(t.state),
            "state_display": _label(State, t.state),
            "stage": _STAGE.to_representation(t.stage),
            "urgency": _URGENCY.to_representation(t.urgency),
            "category": None if category is None else _category_brief(category),
            "department": None if department is None else _department_brief(department),
            "handler": None if handler is None else _user_brief(handler),
            "reporter": _user_brief(t.reporter),
            "customer": {
                "name": str(t.customer_name),
                "phone": t.customer_phone if full_phone else mask_phone(t.customer_phone),
                "phone_masked": not full_phone,
                "region": str(t.customer_region),
                "star_level": None if t.star_level is None else int(t.star_level),
                "is_vip": bool(t.is_vip),
                "is_elderly": bool(t.is_elderly),
                "claimed_escalation": bool(t.claimed_escalation),
            },
            "is_repeat": bool(t.is_repeat),
            "is_priority": bool(t.is_priority),
            "is_regulator": bool(t.is_regulator),
            "risk_score": int(t.risk_score),
            "reported_at": _DATETIME.to_representation(t.reported_at),
            "promise_due_at": _DATETIME.to_representation(t.promise_due_at),
            "sla_status": _SLA_STATUS.to_representation(t.sla_status),
            "sla_remaining_seconds": self.get_sla_remaining_seconds(t),
        }


# Unbound field instances for the hand-written rows (their to_representation reads no
# parent): a value of None stays None, as DRF's walk writes it.
_STATE = serializers.ChoiceField(choices=State.choices)
_STAGE = serializers.ChoiceField(choices=Stage.choices)
_URGENCY = serializers.ChoiceField(choices=Urgency.choices)
_SLA_STATUS = serializers.ChoiceField(choices=SlaStatus.choices)
_DATETIME = serializers.DateTimeField()


def _label(choices, value):
    """`get_FOO_display()` without rebuilding the choices: the label in the active language,
    an unknown value as it is."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _user_brief(user) -> dict:
    return {
        "id": int(user.id),
        "username": str(user.username),
        "name": user.get_full_name() or user.username,
    }


def _department_brief(department) -> dict:
    return {"id": int(department.id), "name": str(department.name), "code": str(department.code)}


def _category_brief(category) -> dict:
    return {"id": int(category.id), "name": str(category.name), "path": category_path(category)}


def category_path(category) -> str:
    """`Category.path_display` with the parent's name from the per-process copy of the
    categories (cleared when any category is saved), so lists need not join the parent."""
    if not category.parent_id:
        return str(category.name)
    return f"{category_name(category.parent_id)} / {category.name}"


class ClockSerializer(serializers.Serializer):
    kind = serializers.CharField()
    kind_display = serializers.CharField(source="get_kind_display")
    department = DepartmentBriefSerializer(allow_null=True)
    started_at = serializers.DateTimeField()
    due_at_original = serializers.DateTimeField(source="original_due_at")
    due_at_effective = serializers.DateTimeField(source="due_at")
    paused = serializers.BooleanField(source="is_paused")
    paused_seconds = serializers.IntegerField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    voided = serializers.BooleanField()
    status = serializers.SerializerMethodField()
    remaining_seconds = serializers.SerializerMethodField()
    overdue_seconds = serializers.SerializerMethodField()
    outcome = serializers.CharField(allow_blank=True)
    working_time = serializers.BooleanField(
        source="counts_working_time",
        help_text="Counts working time of a business calendar (remaining/overdue seconds too).",
    )
    rule = serializers.SerializerMethodField(help_text="Which SLA rule applies, and why.")

    def _now(self):
        return self.context.get("now") or timezone.now()

    @extend_schema_field(serializers.ChoiceField(choices=SlaStatus.choices, allow_null=True))
    def get_status(self, clock):
        return clock.status(self._now())

    def get_remaining_seconds(self, clock) -> int | None:
        left = clock.remaining_seconds(self._now())
        return None if left is None else max(left, 0)

    def get_overdue_seconds(self, clock) -> int | None:
        left = clock.remaining_seconds(self._now())
        return None if left is None else max(-left, 0)

    def get_rule(self, clock) -> str:
        return clock_rule_text(clock)


class CountsSerializer(serializers.Serializer):
    returns = serializers.IntegerField(source="return_count")
    returns_rejected = serializers.IntegerField(source="return_rejected_count")
    redispatches = serializers.IntegerField(source="redispatch_count")
    redos = serializers.IntegerField(source="redo_count")
    chases = serializers.IntegerField(source="chase_count")
    supervisions = serializers.IntegerField(source="supervise_count")
    suspensions = serializers.IntegerField(source="suspension_count")
    extensions = serializers.IntegerField(source="extension_count")


class TicketDetailSerializer(serializers.Serializer):
    number = serializers.CharField()
    version = serializers.IntegerField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    title = serializers.CharField()
    description = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    state_display = serializers.CharField(source="get_state_display")
    stage = serializers.ChoiceField(choices=Stage.choices)
    allowed_transitions = serializers.SerializerMethodField()
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    urgency_reason = serializers.CharField()
    category = CategoryBriefSerializer()
    customer = CustomerDetailSerializer(source="*")
    reporter = UserBriefSerializer()
    reported_at = serializers.DateTimeField()
    department = DepartmentBriefSerializer(allow_null=True)
    co_departments = DepartmentBriefSerializer(many=True)
    handler = UserBriefSerializer(allow_null=True)
    dispatched_at = serializers.DateTimeField(allow_null=True)
    claimed_at = serializers.DateTimeField(allow_null=True)
    suspended_until = serializers.DateTimeField(allow_null=True)
    last_return_reason = serializers.CharField()
    last_return_ruling = serializers.CharField()
    replied_at = serializers.DateTimeField(allow_null=True)
    reply_result = serializers.CharField()
    reply_cause = serializers.CharField()
    reply_resolved = serializers.BooleanField(allow_null=True)
    public_reply = serializers.CharField()
    is_regulator = serializers.BooleanField(help_text="监管申诉: the statutory clock runs.")
    risk_score = serializers.IntegerField(help_text="越级风险 0–100 (escalation-risk score).")
    risk_alerted_at = serializers.DateTimeField(
        allow_null=True, help_text="When the score first reached the alert threshold."
    )
    regulator_marked_at = serializers.DateTimeField(
        allow_null=True, help_text="Set when marked 申诉 after it was filed (越级)."
    )
    regulator_signed_off_at = serializers.DateTimeField(
        allow_null=True, help_text="The supervisor's sign-off; a regulator order closes after it."
    )
    visit_at = serializers.DateTimeField(allow_null=True)
    visit_outcome = serializers.CharField()
    visit_resolved = serializers.BooleanField(allow_null=True)
    visit_satisfaction = serializers.CharField()
    visit_channel = serializers.CharField(
        help_text="How the verdict was taken: phone, sms_survey, on_the_spot; empty if none"
    )
    closed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    is_repeat = serializers.BooleanField()
    # Annotated by api.common.detail_queryset (the linked order's number).
    repeat_of = serializers.CharField(source="repeat_of_number", allow_null=True)
    duplicate_of = serializers.CharField(source="duplicate_of_number", allow_null=True)
    promise_due_at = serializers.DateTimeField(allow_null=True)
    clocks = ClockSerializer(many=True)
    counts = CountsSerializer(source="*")
    suggested_department = serializers.SerializerMethodField(
        help_text="The department the category's routing rule names (what the dispatch form "
        "preselects); null when it names none or an inactive one."
    )

    @extend_schema_field(DepartmentBriefSerializer(allow_null=True))
    def get_suggested_department(self, ticket):
        dept = routing_department(ticket.category)
        return None if dept is None else DepartmentBriefSerializer(dept).data

    def get_allowed_transitions(self, ticket) -> list[str]:
        from workorders.selectors import allowed_transitions

        return sorted(allowed_transitions(self.context["request"].user, ticket))

    def to_representation(self, t):
        """The declared fields above, written out, as the list's rows are: DRF's generic walk
        deep-copies every field and nested serializer per order, which cost more than the
        rest of a create's response. Same keys, order and values:
        tests/api/test_detail_representation.py compares the two for orders in every state
        and every role. The declarations stay for the schema."""
        user = self.context["request"].user
        full_phone = can_see_full_phone(user, t)
        category, department, handler = t.category, t.department, t.handler
        now = self.context.get("now") or timezone.now()
        dt = _DATETIME.to_representation
        return {
            "number": _str(t.number),
            "version": _int(t.version),
            "channel": _CHANNEL.to_representation(t.channel),
            "title": _str(t.title),
            "description": _str(t.description),
            "state": _STATE.to_representation(t.state),
            "state_display": _label(State, t.state),
            "stage": _STAGE.to_representation(t.stage),
            "allowed_transitions": self.get_allowed_transitions(t),
            "urgency": _URGENCY.to_representation(t.urgency),
            "urgency_reason": _str(t.urgency_reason),
            "category": None if category is None else _category_brief(category),
            "customer": {
                "name": _str(t.customer_name),
                "phone": t.customer_phone if full_phone else mask_phone(t.customer_phone),
                "phone_masked": not full_phone,
                "region": _str(t.customer_region),
                "star_level": _int(t.star_level),
                "is_vip": _bool(t.is_vip),
                "is_elderly": _bool(t.is_elderly),
                "claimed_escalation": _bool(t.claimed_escalation),
                "address": _str(t.customer_address),
            },
            "reporter": None if t.reporter is None else _user_brief(t.reporter),
            "reported_at": dt(t.reported_at),
            "department": None if department is None else _department_brief(department),
            "co_departments": [_department_brief(d) for d in t.co_departments.all()],
            "handler": None if handler is None else _user_brief(handler),
            "dispatched_at": dt(t.dispatched_at),
            "claimed_at": dt(t.claimed_at),
            "suspended_until": dt(t.suspended_until),
            "last_return_reason": _str(t.last_return_reason),
            "last_return_ruling": _str(t.last_return_ruling),
            "replied_at": dt(t.replied_at),
            "reply_result": _str(t.reply_result),
            "reply_cause": _str(t.reply_cause),
            "reply_resolved": _bool(t.reply_resolved),
            "public_reply": _str(t.public_reply),
            "is_regulator": _bool(t.is_regulator),
            "risk_score": _int(t.risk_score),
            "risk_alerted_at": dt(t.risk_alerted_at),
            "regulator_marked_at": dt(t.regulator_marked_at),
            "regulator_signed_off_at": dt(t.regulator_signed_off_at),
            "visit_at": dt(t.visit_at),
            "visit_outcome": _str(t.visit_outcome),
            "visit_resolved": _bool(t.visit_resolved),
            "visit_satisfaction": _str(t.visit_satisfaction),
            "visit_channel": _str(t.visit_channel),
            "closed_at": dt(t.closed_at),
            "cancelled_at": dt(t.cancelled_at),
            "cancel_reason": _str(t.cancel_reason),
            "is_repeat": _bool(t.is_repeat),
            "repeat_of": _str(t.repeat_of_number),
            "duplicate_of": _str(t.duplicate_of_number),
            "promise_due_at": dt(t.promise_due_at),
            "clocks": [_clock(c, now) for c in t.clocks.all()],
            "counts": {
                "returns": _int(t.return_count),
                "returns_rejected": _int(t.return_rejected_count),
                "redispatches": _int(t.redispatch_count),
                "redos": _int(t.redo_count),
                "chases": _int(t.chase_count),
                "supervisions": _int(t.supervise_count),
                "suspensions": _int(t.suspension_count),
                "extensions": _int(t.extension_count),
            },
            "suggested_department": self.get_suggested_department(t),
        }


# A None value stays None, as DRF's walk writes it; otherwise what the declared field gives.
def _str(value):
    return None if value is None else str(value)


def _int(value):
    return None if value is None else int(value)


def _bool(value):
    return None if value is None else bool(value)


_CHANNEL = serializers.ChoiceField(choices=Channel.choices)


def _clock(c, now) -> dict:
    """ClockSerializer's output, written out (see TicketDetailSerializer.to_representation)."""
    dt = _DATETIME.to_representation
    department = c.department
    left = c.remaining_seconds(now)
    return {
        "kind": _str(c.kind),
        "kind_display": _label(ClockKind, c.kind),
        "department": None if department is None else _department_brief(department),
        "started_at": dt(c.started_at),
        "due_at_original": dt(c.original_due_at),
        "due_at_effective": dt(c.due_at),
        "paused": _bool(c.is_paused),
        "paused_seconds": _int(c.paused_seconds),
        "stopped_at": dt(c.stopped_at),
        "voided": _bool(c.voided),
        "status": c.status(now),
        "remaining_seconds": None if left is None else max(left, 0),
        "overdue_seconds": None if left is None else max(-left, 0),
        "outcome": _str(c.outcome),
        "working_time": _bool(c.counts_working_time),
        "rule": clock_rule_text(c),
    }


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": "The category's id or its code.",
    }
)
class CategoryRefField(serializers.Field):
    """A category by its numeric id or its code: the API accepts either."""

    default_error_messages = {
        "does_not_exist": _("问题分类不存在：%(ref)s"),
        "incorrect_type": _("请提供问题分类的编号或代码。"),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type")
        found = category_by_ref(data)
        if found is None:
            raise serializers.ValidationError(
                self.error_messages["does_not_exist"] % {"ref": str(data)[:64]},
                code="does_not_exist",
            )
        return found

    def to_representation(self, value):
        return value.pk


class TicketCreateSerializer(serializers.Serializer):
    category = CategoryRefField()
    customer_phone = serializers.CharField(max_length=20)
    description = serializers.CharField(max_length=5000)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    urgency_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    customer_address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer_region = serializers.CharField(max_length=32, required=False, allow_blank=True)
    star_level = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    is_elderly = serializers.BooleanField(required=False)
    claimed_escalation = serializers.BooleanField(required=False)
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=-180,
        max_value=180,
        required=False,
        allow_null=True,
    )

    def get_fields(self):
        # DRF deep-copies the declared fields for every instance, their arguments (choices,
        # lazy labels) included; making them anew from their arguments still cost ~6 % of a
        # create's CPU (each one builds its validators and messages). The declared fields are
        # never bound or changed (binding happens on the copies, in their own __dict__), and
        # validating reads but never changes what a shallow copy shares with them (validators,
        # messages, choices): each serializer gets its own unbound copies.
        fields = {}
        for name, declared in self._declared_fields.items():
            field = object.__new__(declared.__class__)
            field.__dict__.update(declared.__dict__)
            fields[name] = field
        return fields


class TicketPatchSerializer(serializers.Serializer):
    description_addition = serializers.CharField(max_length=2000, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    urgency_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


# --------------------------------------------------------------------------- transitions


def _department_field(**kw):
    return SafePrimaryKeyRelatedField(queryset=Department.objects.all(), **kw)


def _user_field(**kw):
    return SafePrimaryKeyRelatedField(queryset=User.objects.all(), **kw)


class DispatchSerializer(serializers.Serializer):
    department = _department_field()
    co_departments = serializers.ListField(child=_department_field(), required=False, max_length=20)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ClaimSerializer(serializers.Serializer):
    handler = _user_field(required=False, allow_null=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


class RuleReturnSerializer(serializers.Serializer):
    uphold = serializers.BooleanField()
    department = _department_field(required=False, allow_null=True)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True)


class RedispatchSerializer(serializers.Serializer):
    department = _department_field()
    reason = serializers.CharField(max_length=500, allow_blank=True)


class SuspendSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=SuspensionReason.choices)
    until = serializers.DateTimeField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class EmptySerializer(serializers.Serializer):
    pass


class ReplySerializer(serializers.Serializer):
    result = serializers.CharField(max_length=5000, allow_blank=True)
    cause = serializers.ChoiceField(choices=CauseCategory.choices)
    resolved = serializers.BooleanField()
    public_reply = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="What the customer reads on the status page (the result stays internal)",
    )


class CloseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=VisitOutcome.choices)
    resolved = serializers.BooleanField(required=False, allow_null=True, default=None)
    satisfaction = serializers.ChoiceField(
        choices=Satisfaction.choices, required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class RedoSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)
    duplicate_of = serializers.CharField(
        max_length=16, required=False, allow_blank=True, help_text="Number of the earlier order"
    )


# --------------------------------------------------------------------------- records


class CommentSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True)
    body = serializers.CharField(max_length=2000)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["id", "created_at"]


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = UserBriefSerializer(read_only=True)
    url = serializers.SerializerMethodField(help_text="Where to download the photo (same auth)")

    class Meta:
        model = Attachment
        fields = ["id", "uploaded_by", "original_name", "content_type", "size", "created_at", "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return reverse("api-attachment-content", args=[obj.ticket.number, obj.pk])


class AttachmentUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(max_length=200, allow_empty_file=True), max_length=6
    )


class ChaseSerializer(serializers.ModelSerializer):
    by = UserBriefSerializer(read_only=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    class Meta:
        model = Chase
        fields = ["id", "by", "note", "created_at"]
        read_only_fields = ["id", "created_at"]


class SupervisionSerializer(serializers.ModelSerializer):
    by = UserBriefSerializer(read_only=True, allow_null=True)
    note = serializers.CharField(max_length=500, allow_blank=True)

    class Meta:
        model = Supervision
        fields = ["id", "by", "note", "created_at"]
        read_only_fields = ["id", "created_at"]


class ExtensionSerializer(serializers.ModelSerializer):
    requested_by = UserBriefSerializer(read_only=True)
    decided_by = UserBriefSerializer(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=RequestStatus.choices, read_only=True)

    class Meta:
        model = ExtensionRequest
        fields = [
            "id",
            "requested_by",
            "requested_at",
            "hours",
            "reason",
            "status",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


class ExtensionRequestSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=24 * 30)
    reason = serializers.CharField(max_length=500, allow_blank=True)


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class SuspensionSerializer(serializers.ModelSerializer):
    requested_by = UserBriefSerializer(read_only=True)
    decided_by = UserBriefSerializer(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=RequestStatus.choices, read_only=True)
    reason = serializers.ChoiceField(choices=SuspensionReason.choices, read_only=True)

    class Meta:
        model = SuspensionRequest
        fields = [
            "id",
            "requested_by",
            "requested_at",
            "reason",
            "note",
            "until",
            "status",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


class TimelineItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    type = serializers.ChoiceField(
        choices=[
            "transition",
            "comment",
            "attachment",
            "chase",
            "supervision",
            "sla_event",
            "notification",
            "customer_message",
        ]
    )
    name = serializers.CharField(required=False, help_text="Transition or action name")
    role = serializers.CharField(required=False)
    actor = UserBriefSerializer(allow_null=True)
    text = serializers.CharField(allow_blank=True)
    source = serializers.CharField(required=False, allow_blank=True)
    target = serializers.CharField(required=False, allow_blank=True)


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField(source="shown_title", help_text="In the request's language")
    body = serializers.CharField(source="shown_body", help_text="In the request's language")
    ticket = serializers.CharField(source="ticket.number", allow_null=True)
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=1000,
        help_text="Omit to mark all unread notifications read",
    )


class NotificationReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(
        allow_null=True, help_text="When the token stops working (null: never)."
    )


class AssignSerializer(serializers.Serializer):
    handler = SafePrimaryKeyRelatedField(queryset=User.objects.all())


class CoHandlingSerializer(serializers.Serializer):
    departments = serializers.ListField(
        child=SafePrimaryKeyRelatedField(queryset=Department.objects.all()),
        min_length=1,
        max_length=20,
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CustomerMessageSerializer(serializers.Serializer):
    """A text to the order's customer (`notifications.sms_selectors.customer_message_row`)."""

    at = serializers.DateTimeField(help_text="When the event happened (the text was written)")
    event = serializers.CharField(help_text="accepted, dispatched, suspended, resumed, …")
    event_label = serializers.CharField()
    to = serializers.CharField(help_text="The number, masked unless the user may see it whole")
    text = serializers.CharField(help_text="The whole text, sign name included")
    template = serializers.CharField(help_text="The template code at the SMS platform")
    segments = serializers.IntegerField(allow_null=True, help_text="SMS parts (70, 67 each)")
    coalesced = serializers.ListField(
        child=serializers.CharField(), help_text="Earlier events this text replaced"
    )
    status = serializers.ChoiceField(choices=["pending", "sent", "failed", "skipped"])
    status_text = serializers.CharField()
    attempts = serializers.IntegerField()
    sent_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    receipt_status = serializers.ChoiceField(
        choices=["", "delivered", "failed"], help_text="The platform's delivery receipt"
    )
    receipt_at = serializers.DateTimeField(allow_null=True)
    receipt_error = serializers.CharField(allow_blank=True)


# --------------------------------------------------------------------------- channel intake


class IntakeSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=64, help_text="The channel system's own id for the contact (idempotent)."
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        help_text="Optional; must be the account's own channel.",
    )
    category = serializers.CharField(max_length=64, help_text="The category's code (or id).")
    customer_phone = serializers.CharField(max_length=20)
    description = serializers.CharField(max_length=5000)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    customer_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    customer_address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer_region = serializers.CharField(max_length=32, required=False, allow_blank=True)
    star_level = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    is_elderly = serializers.BooleanField(required=False)
    claimed_escalation = serializers.BooleanField(required=False)
    agent = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="The agent's name or id."
    )
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, max_length=6, allow_empty=True
    )


class IntakeResultSerializer(serializers.Serializer):
    number = serializers.CharField()
    external_id = serializers.CharField()
    channel = serializers.CharField()
    state = serializers.CharField()
    status_url = serializers.CharField(help_text="The customer's status page.")
    replayed = serializers.BooleanField(help_text="True when this external_id was filed before.")


class LookupOrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    summary = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    state_display = serializers.CharField(source="get_state_display")
    channel = serializers.CharField()
    category = CategoryBriefSerializer()
    reported_at = serializers.DateTimeField()
    promise_due_at = serializers.DateTimeField(allow_null=True)
    is_repeat = serializers.BooleanField()
    visit_satisfaction = serializers.CharField(allow_blank=True)


class CustomerLookupSerializer(serializers.Serializer):
    phone = serializers.CharField()
    open_orders = LookupOrderSerializer(many=True)
    recent_orders = LookupOrderSerializer(many=True, help_text="Reported in the last 30 days.")
    repeat = serializers.BooleanField(help_text="A new order now would be a repeat (30 days).")
    last_satisfaction = serializers.CharField(
        allow_null=True, help_text="satisfied / basically / unsatisfied of the latest visit."
    )
    opted_out = serializers.BooleanField(
        help_text="The caller replied TD/退订 to our texts (not cleared since): no SMS to them."
    )
