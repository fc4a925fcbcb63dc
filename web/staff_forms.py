"""Forms of the handlers' and leads' phone pages. They parse input only; the services decide
(rights, states, required reasons and times) and their messages come back next to the fields.
The one rule here is the phone pages' own: a refusal must say why (the reviewer reads it)."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from workorders.models import CauseCategory, SuspensionReason

from .forms import PhotosField, _photo_widget


class VersionForm(forms.Form):
    # The version of the order the page showed: the service refuses the write if the order
    # changed since (someone else claimed it first), instead of acting on a stale page.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)


class ClaimForm(VersionForm):
    pass


class ResumeForm(VersionForm):
    pass


class ReturnForm(VersionForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label=_("退单原因（为何不属于本部门）"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _choose(choices):
    return [("", _("— 请选择 —")), *choices]


class ReplyForm(VersionForm):
    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    cause = forms.ChoiceField(
        choices=_choose(CauseCategory.choices), required=False, label=_("原因分类")
    )
    resolved = forms.TypedChoiceField(
        choices=[("yes", _("已解决")), ("no", _("未解决"))],
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        label=_("自评是否已解决"),
    )
    result = forms.CharField(
        required=False,
        max_length=2000,
        label=_("处理结果（内部）"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    public_reply = forms.CharField(
        required=False,
        max_length=1000,
        label=_("答复客户"),
        help_text=_("客户在进度查询页看到的答复；处理结果仅内部可见。"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = PhotosField(label=_("现场照片（可选，最多6张）"), widget=_photo_widget())
    drop_kept = forms.MultipleChoiceField(required=False, choices=[], label=_("不再使用的照片"))

    def __init__(self, *args, kept=(), **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("form_key"):
            self.initial["form_key"] = uuid.uuid4().hex
        self.kept = list(kept)
        self.fields["drop_kept"].choices = [(k["id"], k["name"]) for k in self.kept]

    def clean_form_key(self):
        value = self.cleaned_data["form_key"]
        try:
            return uuid.UUID(value).hex
        except ValueError:
            return ""  # photos are then not kept across a failed submit; nothing else changes


class SuspensionRequestForm(VersionForm):
    reason = forms.ChoiceField(
        choices=_choose(SuspensionReason.choices), required=False, label=_("挂起原因")
    )
    until = forms.DateTimeField(
        required=False,
        label=_("挂起至"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(required=False, max_length=500, label=_("说明"))


class ExtensionRequestForm(VersionForm):
    hours = forms.IntegerField(
        required=False,
        label=_("延期小时数"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": 720}),
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label=_("延期原因"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CohandlingForm(VersionForm):
    department = forms.TypedChoiceField(
        choices=[], coerce=int, empty_value=None, required=False, label=_("协办部门")
    )
    note = forms.CharField(required=False, max_length=500, label=_("需要协办的事项"))

    def __init__(self, *args, departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = _choose(
            [(d.pk, "\u3000" * max(d.depth - 1, 0) + d.name) for d in departments]
        )


class AssignForm(VersionForm):
    # Plain choices built once per page: a list of orders each with this form costs no
    # query per row.
    handler = forms.TypedChoiceField(
        choices=[], coerce=int, empty_value=None, required=False, label=_("处理人")
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, handlers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler"].choices = _choose(handlers)


class DecisionForm(VersionForm):
    decision = forms.ChoiceField(
        choices=[("approve", pgettext_lazy("decision", "批准")), ("refuse", _("驳回"))]
    )
    note = forms.CharField(
        required=False,
        max_length=500,
        label=_("审批意见（驳回时必填）"),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "refuse" and not (data.get("note") or "").strip():
            self.add_error("note", _("驳回时请填写理由。"))
        return data
