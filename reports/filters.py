"""The report's filters, parsed once for the page, the drill-down list, the exports and the API."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Department
from workorders.models import Category, Channel, Urgency
from workorders.validators import validate_date_in_range

from . import kpis
from .kpis import Period, Scope

# Without a period: this month (Asia/Shanghai), on the page, the drill-down, the exports and the
# API alike (issue 16: a day's figures are too few to read; a month is what leads review).
DEFAULT_PERIOD = "month"


@dataclass
class ReportFilters:
    period: Period
    scope: Scope
    group_by: str | None
    count: str | None
    params: dict

    def as_json(self) -> dict:
        """What the export log records."""
        return {
            "period": self.params.get("period") or DEFAULT_PERIOD,
            "start": self.period.first_day.isoformat(),
            "end": self.period.last_day.isoformat(),
            **{
                k: v
                for k, v in self.params.items()
                if k not in ("period", "start", "end", "format") and v not in ("", None)
            },
        }

    def query(self, **overrides) -> str:
        """The query string of these filters, with overrides (None removes a key)."""
        params = {k: v for k, v in self.params.items() if v not in ("", None)}
        for k, v in overrides.items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = v
        return urlencode(params)


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("统计周期"),
        choices=[(k, v) for k, v in kpis.PERIOD_KINDS.items()],
        required=False,
    )
    # Bounded: the period maths (the previous period, the day after the end) overflowed at the
    # ends of Python's date range.
    start = forms.DateField(
        label=_("开始日期"), required=False, validators=[validate_date_in_range]
    )
    end = forms.DateField(label=_("结束日期"), required=False, validators=[validate_date_in_range])
    department = forms.ModelChoiceField(
        label=_("部门"), queryset=Department.objects.filter(is_active=True), required=False
    )
    dept_exact = forms.BooleanField(label=_("仅本部门"), required=False)
    no_department = forms.BooleanField(required=False, widget=forms.HiddenInput)
    category = forms.ModelChoiceField(
        label=_("问题分类"), queryset=Category.objects.select_related("parent"), required=False
    )
    region = forms.CharField(label=_("归属地区"), max_length=32, required=False)
    urgency = forms.ChoiceField(
        label=_("紧急程度"), choices=[("", "—"), *Urgency.choices], required=False
    )
    channel = forms.ChoiceField(
        label=_("受理渠道"), choices=[("", "—"), *Channel.choices], required=False
    )
    exclude_fault_linked = forms.BooleanField(label=_("不含群障关联工单"), required=False)
    group_by = forms.ChoiceField(
        label=_("分组"),
        choices=[("", "—"), *((k, v) for k, v in kpis.GROUP_BY.items())],
        required=False,
    )
    count = forms.ChoiceField(
        choices=[("", "")] + [(k, v) for k, v in kpis.COUNT_LABELS.items()],
        required=False,
        widget=forms.HiddenInput,
    )

    def clean(self):
        data = super().clean()
        kind = data.get("period") or DEFAULT_PERIOD
        if kind == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                if "start" not in self.errors and "end" not in self.errors:
                    self.add_error("start", _("自定义周期请填写开始和结束日期。"))
            elif end < start:
                self.add_error("end", _("结束日期不能早于开始日期。"))
            elif (end - start).days > 366 * 3:
                self.add_error("end", _("自定义周期最长三年。"))
        return data

    def to_filters(self, *, now=None) -> ReportFilters:
        d = self.cleaned_data
        kind = d.get("period") or DEFAULT_PERIOD
        period = kpis.period_for(
            kind, now=now or timezone.now(), start=d.get("start"), end=d.get("end")
        )
        scope = Scope(
            department=d.get("department"),
            department_exact=bool(d.get("dept_exact")),
            category=d.get("category"),
            region=(d.get("region") or "").strip(),
            urgency=d.get("urgency") or "",
            channel=d.get("channel") or "",
            no_department=bool(d.get("no_department")),
            exclude_fault_linked=bool(d.get("exclude_fault_linked")),
        )
        params = {}
        for name in self.fields:
            raw = self.data.get(name)
            if raw not in (None, ""):
                params[name] = raw
        return ReportFilters(
            period=period,
            scope=scope,
            group_by=d.get("group_by") or None,
            count=d.get("count") or None,
            params=params,
        )


def parse_filters(data, *, now=None) -> tuple[ReportFilters | None, ReportFilterForm]:
    form = ReportFilterForm(data)
    if not form.is_valid():
        return None, form
    return form.to_filters(now=now), form
