"""Small forms for the order page's buttons and the bulk actions. Each transition form parses
its inputs and calls exactly one service; the service decides whether it is allowed."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Department, User
from accounts.roles import Role
from workorders import services
from workorders.models import (
    Category,
    CauseCategory,
    RequestStatus,
    Satisfaction,
    State,
    SuspensionReason,
    Ticket,
    VisitOutcome,
)
from workorders.permissions import may
from workorders.selectors import reply_templates_for, tickets_visible_to

YES_NO = [("", "---------"), ("yes", _("是")), ("no", _("否"))]


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def active_departments():
    return Department.objects.filter(is_active=True).order_by("path")


class DepartmentChoiceField(forms.ModelChoiceField):
    """Departments shown as an indented tree."""

    def label_from_instance(self, obj: Department) -> str:
        return "\u3000" * max(obj.depth - 1, 0) + obj.name


class DepartmentMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Department) -> str:
        return "\u3000" * max(obj.depth - 1, 0) + obj.name


def handler_candidates(department: Department | None):
    """Active handlers and leads of the department's subtree or of the lines above it (the
    service checks membership again; this only keeps the list short)."""
    users = User.objects.filter(
        is_active=True, groups__name__in=[Role.HANDLER, Role.LEAD]
    ).select_related("department")
    if department is None:
        return users.none()
    parts = [p for p in department.path.split("/") if p]
    ancestors = ["".join(p + "/" for p in parts[:i]) for i in range(1, len(parts) + 1)]
    return (
        users.filter(
            Q(department__path__startswith=department.path) | Q(department__path__in=ancestors)
        )
        .distinct()
        .order_by("username")
    )


class TransitionForm(forms.Form):
    """Base: `submit()` calls the service and returns a success message.

    Every form carries the version of the order the user was shown (hidden); the service
    compares it with the order under its lock, so a change someone made in the meantime is
    refused with a message instead of being overwritten."""

    label = ""
    success_message = _("操作成功。")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    def __init__(self, *args, ticket: Ticket, user: User, **kwargs):
        self.ticket = ticket
        self.user = user
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("version", ticket.version)

    @property
    def expected_version(self) -> int | None:
        return self.cleaned_data.get("version")

    def prefill(self, params) -> None:
        """An unbound form filled from the page's query string (e.g. a chosen reply template)."""

    def submit(self) -> str:
        raise NotImplementedError


class DispatchForm(TransitionForm):
    label = pgettext_lazy("action", "派单")
    success_message = _("已派单。")
    department = DepartmentChoiceField(active_departments(), label=_("责任部门"))
    co_departments = DepartmentMultipleChoiceField(
        active_departments(), label=_("协办部门"), required=False
    )
    comment = forms.CharField(
        label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        routed = services.routing_department(self.ticket.category)
        if routed is not None and not self.is_bound:
            # The category's routing rule suggests the department; the dispatcher may change it.
            self.initial.setdefault("department", routed.pk)
            self.fields["department"].help_text = _("按分类“%(category)s”的路由规则建议。") % {
                "category": self.ticket.category
            }

    def submit(self) -> str:
        d = self.cleaned_data
        services.ticket_dispatch(
            ticket=self.ticket,
            by=self.user,
            department=d["department"],
            co_departments=d["co_departments"],
            comment=d["comment"],
            expected_version=self.expected_version,
        )
        return self.success_message


class ClaimForm(TransitionForm):
    label = pgettext_lazy("action", "签收")
    success_message = _("已签收（报到）。")
    handler = forms.ModelChoiceField(User.objects.none(), label=_("处理人"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler"].queryset = handler_candidates(self.ticket.department)

    def submit(self) -> str:
        services.ticket_claim(
            ticket=self.ticket,
            by=self.user,
            handler=self.cleaned_data["handler"],
            expected_version=self.expected_version,
        )
        return self.success_message


class ReasonForm(TransitionForm):
    reason = forms.CharField(
        label=_("原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RequestReturnForm(ReasonForm):
    label = pgettext_lazy("action", "退单")
    success_message = _("已申请退单，等待调度裁定。")

    def submit(self) -> str:
        services.ticket_request_return(
            ticket=self.ticket,
            by=self.user,
            reason=self.cleaned_data["reason"],
            expected_version=self.expected_version,
        )
        return self.success_message


class RuleReturnForm(TransitionForm):
    label = pgettext_lazy("action", "裁定退单")
    success_message = _("已裁定退单。")
    ruling = forms.ChoiceField(
        label=_("裁定"),
        choices=[("uphold", _("退单成立，改派新部门")), ("reject", _("退单驳回，退回原部门"))],
        widget=forms.RadioSelect,
    )
    department = DepartmentChoiceField(active_departments(), label=_("新责任部门"), required=False)
    comment = forms.CharField(
        label=_("说明"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def submit(self) -> str:
        d = self.cleaned_data
        services.ticket_rule_return(
            ticket=self.ticket,
            by=self.user,
            uphold=d["ruling"] == "uphold",
            department=d["department"],
            comment=d["comment"],
            expected_version=self.expected_version,
        )
        return self.success_message


class RedispatchForm(ReasonForm):
    label = pgettext_lazy("action", "转派")
    success_message = _("已转派。")
    department = DepartmentChoiceField(active_departments(), label=_("新责任部门"))
    field_order = ["department", "reason"]

    def submit(self) -> str:
        d = self.cleaned_data
        services.ticket_redispatch(
            ticket=self.ticket,
            by=self.user,
            department=d["department"],
            reason=d["reason"],
            expected_version=self.expected_version,
        )
        return self.success_message


class SuspendForm(TransitionForm):
    label = pgettext_lazy("action", "挂起")
    success_message = _("已挂起，承诺时限暂停计时。")
    reason = forms.ChoiceField(label=_("客户方原因"), choices=SuspensionReason.choices)
    until = forms.DateTimeField(
        label=_("挂起至"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    def submit(self) -> str:
        d = self.cleaned_data
        services.ticket_suspend(
            ticket=self.ticket,
            by=self.user,
            reason=d["reason"],
            until=d["until"],
            note=d["note"],
            expected_version=self.expected_version,
        )
        return self.success_message


class ResumeForm(TransitionForm):
    label = pgettext_lazy("action", "解挂")
    success_message = _("已解挂，承诺时限恢复计时。")

    def submit(self) -> str:
        services.ticket_resume(
            ticket=self.ticket, by=self.user, expected_version=self.expected_version
        )
        return self.success_message


class ReplyForm(TransitionForm):
    label = pgettext_lazy("action", "回单")
    success_message = _("已回单，等待回访。")
    result = forms.CharField(label=_("处理结果"), widget=forms.Textarea(attrs={"rows": 4}))
    cause = forms.ChoiceField(label=_("原因分类"), choices=CauseCategory.choices)
    resolved = forms.ChoiceField(label=_("自评已解决"), choices=YES_NO)
    public_reply = forms.CharField(
        label=_("答复客户"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("客户在进度查询页看到的答复；处理结果仅内部可见。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # 回复模板 of the order's department for its category: each fills cause and texts.
        self.templates = list(reply_templates_for(self.ticket).select_related("category"))

    def prefill(self, params) -> None:
        chosen = params.get("template", "")
        for tpl in self.templates:
            if str(tpl.pk) == chosen:
                self.initial.update(
                    {"cause": tpl.cause, "result": tpl.result, "public_reply": tpl.public_reply}
                )
                self.chosen_template = tpl

    def submit(self) -> str:
        d = self.cleaned_data
        services.ticket_reply(
            public_reply=d["public_reply"],
            ticket=self.ticket,
            by=self.user,
            result=d["result"],
            cause=d["cause"],
            resolved=_yes_no(d["resolved"]),
            expected_version=self.expected_version,
        )
        return self.success_message


class RejectReplyForm(ReasonForm):
    label = pgettext_lazy("action", "驳回回单")
    success_message = _("已驳回回单，工单退回处理中。")

    def submit(self) -> str:
        services.ticket_reject_reply(
            ticket=self.ticket,
            by=self.user,
            reason=self.cleaned_data["reason"],
            expected_version=self.expected_version,
        )
        return self.success_message


class CloseForm(TransitionForm):
    label = pgettext_lazy("action", "回访办结")
    success_message = _("已回访办结。")
    outcome = forms.ChoiceField(
        label=_("回访结果"),
        choices=[
            (VisitOutcome.SUCCESS, VisitOutcome.SUCCESS.label),
            (VisitOutcome.UNREACHABLE, VisitOutcome.UNREACHABLE.label),
        ],
    )
    resolved = forms.ChoiceField(label=_("客户确认已解决"), choices=YES_NO, required=False)
    satisfaction = forms.ChoiceField(
        label=_("满意度"), choices=[("", "---------"), *Satisfaction.choices], required=False
    )
    note = forms.CharField(label=_("回访备注"), required=False, max_length=500)

    def submit(self) -> str:
        d = self.cleaned_data
        # ticket_visit closes on a satisfied, resolved visit and proposes a redo otherwise.
        services.ticket_visit(
            ticket=self.ticket,
            by=self.user,
            outcome=d["outcome"],
            resolved=_yes_no(d["resolved"]),
            satisfaction=d["satisfaction"],
            note=d["note"],
            expected_version=self.expected_version,
        )
        if self.ticket.state == "closed":
            return self.success_message
        return str(_("客户不满意或未解决，已提交重办申请，等待督办确认。"))


class RedoForm(TransitionForm):
    label = pgettext_lazy("action", "确认重办")
    success_message = _("已确认重办，工单退回处理中。")
    reason = forms.CharField(label=_("原因"), required=False, max_length=500)

    def submit(self) -> str:
        services.ticket_redo(
            ticket=self.ticket,
            by=self.user,
            reason=self.cleaned_data["reason"],
            expected_version=self.expected_version,
        )
        return self.success_message


class DeclineRedoForm(TransitionForm):
    """The supervisor declines a proposed redo: the order closes with the unsatisfied visit."""

    label = _("不予重办")
    success_message = _("已不予重办，工单按回访结果办结。")
    right = "redo"
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    @staticmethod
    def applies(ticket) -> bool:
        return ticket.redo_proposals.filter(status=RequestStatus.PENDING).exists()

    def submit(self) -> str:
        services.ticket_decline_redo(
            ticket=self.ticket,
            by=self.user,
            note=self.cleaned_data["note"],
            expected_version=self.expected_version,
        )
        return self.success_message


class CancelForm(ReasonForm):
    label = pgettext_lazy("action", "作废")
    success_message = _("已作废。")
    duplicate_of = forms.CharField(label=_("重复于（工单号）"), required=False, max_length=16)

    def clean_duplicate_of(self):
        number = self.cleaned_data["duplicate_of"].strip()
        if not number:
            return None
        found = tickets_visible_to(self.user).filter(number=number).first()
        if found is None:
            raise forms.ValidationError(_("找不到该工单号。"))
        return found

    def submit(self) -> str:
        d = self.cleaned_data
        services.ticket_cancel(
            ticket=self.ticket,
            by=self.user,
            reason=d["reason"],
            duplicate_of=d["duplicate_of"],
            expected_version=self.expected_version,
        )
        return self.success_message


class AssignForm(TransitionForm):
    label = pgettext_lazy("action", "指派处理人")
    success_message = _("已指派处理人。")
    handler = forms.ModelChoiceField(User.objects.none(), label=_("处理人"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler"].queryset = handler_candidates(self.ticket.department)

    def submit(self) -> str:
        services.ticket_assign(
            ticket=self.ticket,
            by=self.user,
            handler=self.cleaned_data["handler"],
            expected_version=self.expected_version,
        )
        return self.success_message


# Transition name (as the FSM and allowed_transitions() call it) → its form.
TRANSITION_FORMS: dict[str, type[TransitionForm]] = {
    "dispatch": DispatchForm,
    "claim": ClaimForm,
    "request_return": RequestReturnForm,
    "rule_return": RuleReturnForm,
    "redispatch": RedispatchForm,
    "suspend": SuspendForm,
    "resume": ResumeForm,
    "reply": ReplyForm,
    "reject_reply": RejectReplyForm,
    "close": CloseForm,
    "redo": RedoForm,
    "cancel": CancelForm,
}


# Actions on the order that are not transitions of their own (shown when `action_allowed`).
class MarkRegulatorForm(TransitionForm):
    """Mark the order 申诉 (the customer went to the regulator): the statutory clock starts."""

    label = _("标记监管申诉")
    success_message = _("已标记为监管申诉，法定时限开始计时。")
    right = "mark_regulator"
    reason = forms.CharField(label=_("说明"), max_length=500)

    @staticmethod
    def applies(ticket) -> bool:
        return not ticket.is_regulator

    def submit(self) -> str:
        services.ticket_mark_regulator(
            ticket=self.ticket,
            by=self.user,
            reason=self.cleaned_data["reason"],
            expected_version=self.expected_version,
        )
        return self.success_message


class RegulatorSignoffForm(TransitionForm):
    """The supervisor signs off the reply of a regulator complaint before it may close."""

    label = _("督办签字")
    success_message = _("已签字，工单可回访办结。")
    right = "regulator_signoff"
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    @staticmethod
    def applies(ticket) -> bool:
        return (
            ticket.is_regulator
            and ticket.state == State.REPLIED
            and ticket.regulator_signed_off_at is None
        )

    def submit(self) -> str:
        services.ticket_regulator_signoff(
            ticket=self.ticket,
            by=self.user,
            note=self.cleaned_data["note"],
            expected_version=self.expected_version,
        )
        return self.success_message


class SuperviseForm(TransitionForm):
    """督办: a supervisor's note on an open order (the API's supervisions endpoint, same
    service and right)."""

    label = pgettext_lazy("action", "督办")
    success_message = _("已督办，责任部门会收到通知。")
    right = "supervise"
    note = forms.CharField(
        label=_("督办意见"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    @staticmethod
    def applies(ticket) -> bool:
        return ticket.is_open

    def submit(self) -> str:
        services.ticket_supervise(ticket=self.ticket, by=self.user, note=self.cleaned_data["note"])
        return self.success_message


class ChaseForm(TransitionForm):
    """催办: at most once per 10 minutes an order, while it is open and not yet replied."""

    label = pgettext_lazy("action", "催办")
    success_message = _("已催办，责任部门会收到通知。")
    right = "chase"
    note = forms.CharField(
        label=_("催办说明"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    @staticmethod
    def applies(ticket) -> bool:
        return ticket.is_open and ticket.state != State.REPLIED

    def submit(self) -> str:
        services.ticket_chase(ticket=self.ticket, by=self.user, note=self.cleaned_data["note"])
        return self.success_message


class CorrectCategoryForm(TransitionForm):
    """更正分类: a wrong category corrected, with a reason (reports follow the new one)."""

    label = pgettext_lazy("action", "更正分类")
    success_message = _("已更正分类。")
    right = "correct_category"
    when_closed = True  # a closed order's category still counts in the reports
    category = forms.ModelChoiceField(
        Category.objects.none(), label=_("正确的问题分类"), empty_label=None
    )
    reason = forms.CharField(
        label=_("原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(is_active=True).select_related(
            "parent"
        )
        self.initial.setdefault("category", self.ticket.category_id)

    @staticmethod
    def applies(ticket) -> bool:
        return ticket.state != State.CANCELLED

    def submit(self) -> str:
        services.ticket_correct_category(
            ticket=self.ticket,
            by=self.user,
            category=self.cleaned_data["category"],
            reason=self.cleaned_data["reason"],
            expected_version=self.expected_version,
        )
        return self.success_message


ACTION_FORMS: dict[str, type[TransitionForm]] = {
    "correct_category": CorrectCategoryForm,
    "assign": AssignForm,
    "decline_redo": DeclineRedoForm,
    "mark_regulator": MarkRegulatorForm,
    "regulator_signoff": RegulatorSignoffForm,
    "supervise": SuperviseForm,
    "chase": ChaseForm,
}


def action_allowed(user, name: str, ticket) -> bool:
    """Whether to offer an ACTION_FORMS action: the user's right (the action's own, or the one
    it shares with a transition) and, where the action needs one, a pending request. The
    service checks both again."""
    form = ACTION_FORMS[name]
    if not may(user, getattr(form, "right", name), ticket):
        return False
    applies = getattr(form, "applies", None)
    return applies is None or applies(ticket)


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("审批意见"), required=False, max_length=500)


class BulkSuperviseForm(forms.Form):
    note = SuperviseForm.base_fields["note"]


class BulkChaseForm(forms.Form):
    note = ChaseForm.base_fields["note"]


class BulkDepartmentForm(forms.Form):
    department = DepartmentChoiceField(active_departments(), label=_("责任部门"))


class BulkHandlerForm(forms.Form):
    handler = forms.ModelChoiceField(User.objects.none(), label=_("处理人"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler"].queryset = handler_candidates(user.department)
