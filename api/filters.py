"""List filters for orders. Ids are bounded integers so a huge number is a 400, not a
database overflow."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Department
from customers.selectors import callback_queue
from sla.models import SlaStatus
from sla.selectors import filter_sla_status
from workorders.models import STATES_OF_STAGE, Stage, State, Ticket, Urgency
from workorders.selectors import tickets_matching_phone
from workorders.validators import validate_date_in_range

MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFilter(django_filters.Filter):
    field_class = IdField


class TicketFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label=_("状态"))
    stage = django_filters.ChoiceFilter(
        choices=Stage.choices, method="filter_stage", label=_("阶段")
    )
    urgency = django_filters.ChoiceFilter(choices=Urgency.choices, label=_("紧急程度"))
    category = IdFilter(method="filter_category", label=_("问题分类（含子分类）"))
    department = IdFilter(method="filter_department", label=_("责任部门（含下级部门）"))
    handler = IdFilter(field_name="handler_id", label=_("处理人"))
    reporter = IdFilter(field_name="reporter_id", label=_("吹哨人"))
    sla_status = django_filters.ChoiceFilter(
        choices=SlaStatus.choices, method="filter_sla_status", label=_("承诺时限状态")
    )
    repeat = django_filters.BooleanFilter(field_name="is_repeat", label=_("重复投诉"))
    vip = django_filters.BooleanFilter(method="filter_vip", label=_("五星客户"))
    elderly = django_filters.BooleanFilter(field_name="is_elderly", label=_("老年客户"))
    priority = django_filters.BooleanFilter(field_name="is_priority", label=_("重点客户"))
    risk_min = django_filters.NumberFilter(
        field_name="risk_score",
        lookup_expr="gte",
        min_value=0,
        max_value=100,
        label=_("越级风险不低于"),
    )
    regulator = django_filters.BooleanFilter(field_name="is_regulator", label=_("监管申诉"))
    reported_after = django_filters.IsoDateTimeFilter(
        field_name="reported_at",
        lookup_expr="gte",
        label=_("报单时间起"),
        validators=[validate_date_in_range],
    )
    reported_before = django_filters.IsoDateTimeFilter(
        field_name="reported_at",
        lookup_expr="lt",
        label=_("报单时间止"),
        validators=[validate_date_in_range],
    )
    q = django_filters.CharFilter(
        method="filter_search", max_length=32, label=_("工单号或客户电话后几位")
    )
    callback = django_filters.BooleanFilter(
        method="filter_callback",
        label=_("待回访（已回复且不再等待客户的满意度评价）"),
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_callback(self, qs, name, value):
        if value is None:
            return qs
        queue = callback_queue(qs, now=timezone.now())
        return queue if value else qs.exclude(pk__in=queue.values("pk"))

    def filter_stage(self, qs, name, value):
        return qs.filter(state__in=STATES_OF_STAGE[value]) if value else qs

    def filter_category(self, qs, name, value):
        if value is None:
            return qs
        return qs.filter(Q(category_id=value) | Q(category__parent_id=value))

    def filter_department(self, qs, name, value):
        if value is None:
            return qs
        path = Department.objects.filter(pk=value).values_list("path", flat=True).first()
        if path is None:
            return qs.none()
        return qs.filter(department__path__startswith=path)

    def filter_sla_status(self, qs, name, value):
        return filter_sla_status(qs, value) if value else qs

    def filter_vip(self, qs, name, value):
        if value is None:
            return qs
        return qs.filter(star_level__gte=5) if value else qs.exclude(star_level__gte=5)

    def filter_search(self, qs, name, value):
        value = (value or "").strip().replace(" ", "")
        if not value:
            return qs
        if re.fullmatch(r"(?i)GD\d{0,14}", value):
            value = value.upper()
            return (
                qs.filter(number=value) if len(value) == 16 else qs.filter(number__startswith=value)
            )
        if re.fullmatch(r"\d{4,11}", value):
            # More than four digits match only where the user may see the full number.
            return tickets_matching_phone(self.request.user, value, qs, suffix=True)
        return qs.none()
