"""Forms parse input only; every rule (phone format, photo type and size, urgency reason,
who may do what) is the domain services' and comes back as a DomainError."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from workorders.models import Category, Channel, Satisfaction, Urgency


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Any number of files; the service checks count, type and size."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [f for f in data if f]
        return [data] if data else []


def _photo_widget():
    # No `capture`: with it Android opens only the camera; without it the picker offers the
    # camera and the gallery.
    return MultipleFileInput(attrs={"accept": "image/*"})


def _star_choices():
    # Built per render: "%(n)d 星" must be translated in the reader's language.
    return [("", _("未知"))] + [(str(i), _("%(n)d 星") % {"n": i}) for i in range(1, 6)]


class ReportForm(forms.Form):
    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(is_active=True),
        required=False,
        widget=forms.RadioSelect,
        label=_("问题分类"),
    )
    category_other = forms.ModelChoiceField(
        queryset=Category.objects.filter(is_active=True),
        required=False,
        label=_("其他分类"),
        empty_label=_("— 在全部分类中选择 —"),
    )
    urgency = forms.ChoiceField(
        choices=[("", _("按分类建议")), *Urgency.choices],
        required=False,
        widget=forms.RadioSelect,
        label=_("紧急程度"),
    )
    urgency_reason = forms.CharField(required=False, max_length=200, label=_("调整紧急程度的原因"))
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.FIELD, label=_("受理渠道"))
    customer_name = forms.CharField(required=False, max_length=64, label=_("客户姓名"))
    customer_phone = forms.CharField(
        required=False,
        max_length=20,
        label=_("客户电话"),
        widget=forms.TextInput(
            attrs={
                "type": "tel",
                "inputmode": "tel",
                "autocomplete": "off",
                # The help line and the repeat-complaint warning right below the field.
                "aria-describedby": "phone-help repeat-box",
            }
        ),
    )
    customer_address = forms.CharField(required=False, max_length=200, label=_("地址"))
    customer_region = forms.CharField(required=False, max_length=32, label=_("归属地区"))
    star_level = forms.TypedChoiceField(
        choices=_star_choices,
        coerce=int,
        empty_value=None,
        required=False,
        label=_("客户星级"),
    )
    is_elderly = forms.BooleanField(required=False, label=_("老年客户（65岁以上）"))
    claimed_escalation = forms.BooleanField(
        required=False, label=_("客户声称将投诉至10015/12300/媒体")
    )
    description = forms.CharField(
        required=False,
        max_length=2000,
        label=_("问题描述"),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photos = PhotosField(label=_("现场照片（最多6张）"), widget=_photo_widget())
    drop_kept = forms.MultipleChoiceField(required=False, choices=[], label=_("不再使用的照片"))
    latitude = forms.DecimalField(
        required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput
    )
    longitude = forms.DecimalField(
        required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput
    )
    # Mass faults: the number of the fault whose hint the reporter saw, and whether they
    # kept "related" ticked (web/faults.py).
    fault_shown = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)
    fault_related = forms.BooleanField(required=False, initial=True, label=_("与群障相关"))
    # 发现时间: set by the page's script when the phone had no network and kept the report
    # to send later (web/static/web/offline.js); blank when sent at once.
    found_at = forms.DateTimeField(required=False, widget=forms.HiddenInput, label=_("发现时间"))

    def __init__(self, *args, categories=None, kept=(), **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("form_key"):
            self.initial["form_key"] = uuid.uuid4().hex
        self.fields["drop_kept"].choices = [(k["id"], k["name"]) for k in kept]
        self.kept = list(kept)
        self.categories = list(categories or [])

    def clean_form_key(self):
        value = self.cleaned_data["form_key"]
        try:
            return uuid.UUID(value).hex
        except ValueError:
            raise forms.ValidationError(_("表单已失效，请刷新页面后重新填写。")) from None

    def clean(self):
        data = super().clean()
        # A pick from the full list wins over the big buttons (the page's script keeps only
        # one of them set; without script the list is the explicit, later choice).
        data["category"] = data.get("category_other") or data.get("category")
        return data

    def service_fields(self) -> dict:
        d = self.cleaned_data
        return {
            "category": d["category"],
            "customer_phone": d["customer_phone"],
            "description": d["description"],
            "urgency": d["urgency"] or None,
            "urgency_reason": d["urgency_reason"],
            "channel": d["channel"],
            "customer_name": d["customer_name"],
            "customer_address": d["customer_address"],
            "customer_region": d["customer_region"],
            "star_level": d["star_level"],
            "is_elderly": d["is_elderly"],
            "claimed_escalation": d["claimed_escalation"],
            "latitude": d["latitude"],
            "longitude": d["longitude"],
            "found_at": d.get("found_at"),
        }


class CommentForm(forms.Form):
    body = forms.CharField(
        required=False,
        max_length=2000,
        label=_("补充说明"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PhotosForm(forms.Form):
    photos = PhotosField(label=_("补充照片（最多6张）"), widget=_photo_widget())


class ChaseForm(forms.Form):
    note = forms.CharField(required=False, max_length=500, label=_("催办说明（可选）"))


class VerdictForm(forms.Form):
    # The version of the order the page showed: the service refuses the verdict if the order
    # changed since (someone else recorded a visit first), instead of acting on a stale page.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)
    resolved = forms.TypedChoiceField(
        choices=[("yes", _("已解决")), ("no", _("未解决"))],
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        label=_("客户确认问题是否解决"),
    )
    satisfaction = forms.ChoiceField(
        choices=Satisfaction.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("客户满意度"),
    )
    note = forms.CharField(
        required=False, max_length=500, label=_("备注"), widget=forms.Textarea(attrs={"rows": 2})
    )


def add_domain_errors(form: forms.Form, exc, *, aliases: dict | None = None) -> None:
    """Put a DomainError's messages next to the fields they concern; the rest on top."""
    aliases = aliases or {}
    if not exc.fields:
        form.add_error(None, str(exc.message))
        return
    for key, messages in exc.fields.items():
        field = aliases.get(key, key)
        if field not in form.fields:
            field = None
        for message in messages:
            form.add_error(field, str(message))
