"""Small forms of the fault board's buttons. Each parses its inputs and calls exactly one
service; the service decides whether it is allowed."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Department
from workorders.models import CauseCategory, Ticket
from workorders.selectors import tickets_visible_to

from . import services
from .models import Fault

ETA_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def _eta_field(required: bool) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=gettext_lazy("预计恢复时间"),
        required=required,
        input_formats=ETA_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("北京时间"),
    )


def _message_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("告知客户的内容"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("留空则发送标准内容：区域故障正在抢修及预计恢复时间。"),
    )


class FaultForm(forms.Form):
    """Base: `submit()` calls the service and returns a success message."""

    label = ""

    def __init__(self, *args, fault: Fault, user, **kwargs):
        self.fault = fault
        self.user = user
        super().__init__(*args, **kwargs)

    def submit(self) -> str:
        raise NotImplementedError


def outcome_text(outcome, verb: str) -> str:
    text = _("%(verb)s %(n)d 张工单。") % {"verb": verb, "n": len(outcome.done)}
    if outcome.refused:
        text += " " + _("未处理：%(list)s") % {
            "list": "；".join(f"{c.number}（{c.message}）" for c in outcome.refused)
        }
    return text


class ConfirmForm(FaultForm):
    label = gettext_lazy("确认群障")
    department = forms.ModelChoiceField(
        label=gettext_lazy("责任部门"),
        queryset=Department.objects.filter(is_active=True).order_by("path"),
        required=False,
    )
    eta = _eta_field(required=False)
    message = _message_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].initial = (
            self.fault.department_id or self.fault.category.default_department_id
        )

    def submit(self) -> str:
        outcome = services.fault_confirm(
            fault=self.fault,
            by=self.user,
            department=self.cleaned_data["department"],
            eta=self.cleaned_data["eta"],
            message=self.cleaned_data["message"],
        )
        return _("已确认。") + outcome_text(outcome, _("随群障派单"))


class DismissForm(FaultForm):
    label = gettext_lazy("排除群障")
    reason = forms.CharField(
        label=gettext_lazy("排除原因"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def submit(self) -> str:
        services.fault_dismiss(fault=self.fault, by=self.user, reason=self.cleaned_data["reason"])
        return _("已排除，相关工单不会再被一起提示。")


class EtaForm(FaultForm):
    label = gettext_lazy("设置预计恢复时间")
    eta = _eta_field(required=False)
    message = _message_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.fault.eta:
            self.fields["eta"].initial = timezone.localtime(self.fault.eta)
        self.fields["message"].initial = self.fault.customer_message

    def submit(self) -> str:
        services.fault_set_eta(
            fault=self.fault,
            by=self.user,
            eta=self.cleaned_data["eta"],
            message=self.cleaned_data["message"],
        )
        return _("预计恢复时间已更新，关联工单的客户将收到通知。")


class ResolveForm(FaultForm):
    label = gettext_lazy("恢复并统一答复")
    public_reply = forms.CharField(
        label=gettext_lazy("统一答复（答复每张关联工单的客户）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    cause = forms.ChoiceField(
        label=gettext_lazy("原因分类"), choices=CauseCategory.choices, initial="network"
    )

    def submit(self) -> str:
        outcome = services.fault_resolve(
            fault=self.fault,
            by=self.user,
            public_reply=self.cleaned_data["public_reply"],
            cause=self.cleaned_data["cause"],
        )
        return _("已恢复。") + outcome_text(outcome, _("已回复"))


class CloseForm(FaultForm):
    label = gettext_lazy("关闭群障")

    def submit(self) -> str:
        services.fault_close(fault=self.fault, by=self.user)
        return _("群障已关闭。")


class LinkForm(FaultForm):
    label = gettext_lazy("关联工单")
    tickets = forms.ModelMultipleChoiceField(
        queryset=Ticket.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    numbers = forms.CharField(
        label=gettext_lazy("工单号"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("可粘贴多个工单号，用空格、逗号或换行分隔。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tickets"].queryset = tickets_visible_to(self.user)

    def clean(self):
        data = super().clean()
        raw = (data.get("numbers") or "").replace(",", " ").replace("，", " ").split()
        numbers = list(dict.fromkeys(n.strip().upper() for n in raw if n.strip()))
        found = {t.number: t for t in tickets_visible_to(self.user).filter(number__in=numbers)}
        missing = [n for n in numbers if n not in found]
        if missing:
            self.add_error(
                "numbers", _("工单不存在或无权查看：%(list)s") % {"list": "、".join(missing)}
            )
        data["all"] = [*(data.get("tickets") or []), *found.values()]
        if not data["all"] and not missing:
            self.add_error(None, _("请选择或填写要关联的工单。"))
        return data

    def submit(self) -> str:
        tickets = self.cleaned_data["all"]
        services.fault_link(fault=self.fault, tickets=tickets, by=self.user)
        return _("已关联 %(n)d 张工单。") % {"n": len({t.pk for t in tickets})}


class UnlinkForm(FaultForm):
    label = gettext_lazy("解除关联")
    ticket = forms.ModelChoiceField(queryset=Ticket.objects.none())
    reason = forms.CharField(label=gettext_lazy("解除原因"), required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ticket"].queryset = Ticket.objects.filter(
            fault_links__fault=self.fault, fault_links__unlinked_at__isnull=True
        )

    def submit(self) -> str:
        ticket = self.cleaned_data["ticket"]
        services.fault_unlink(
            fault=self.fault, ticket=ticket, by=self.user, reason=self.cleaned_data["reason"]
        )
        return _("已解除 %(number)s 的关联。") % {"number": ticket.number}


ACTION_FORMS: dict[str, type[FaultForm]] = {
    "confirm": ConfirmForm,
    "dismiss": DismissForm,
    "set_eta": EtaForm,
    "resolve": ResolveForm,
    "close": CloseForm,
    "link": LinkForm,
    "unlink": UnlinkForm,
}
