"""SLA reference data for superusers: the rule matrix (with its "which rule would apply to…"
tester) and the business calendars. Saving goes through `sla.services`, so an edited rule
becomes a new version and the clocks already running keep theirs."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Department
from sla import selectors as sla_selectors
from sla import services as sla_services
from sla.calendars import WEEKDAYS
from sla.display import duration_text
from sla.models import (
    Calendar,
    CalendarDay,
    ClockKind,
    DayKind,
    DepartmentCalendar,
    SlaPolicy,
    Tier,
)
from sla.rules import Facts, semicolon
from sla.selectors import rule_trial
from workorders.models import Category, Channel, Urgency

from .reference_admin import SuperuserEditsMixin

ANY = _("任意")


class ActiveFilter(admin.SimpleListFilter):
    """The matrix shows the rules in force unless asked for retired versions."""

    title = _("状态")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("生效")), ("retired", _("已停用(旧版本)")), ("all", _("全部"))]

    def choices(self, changelist):
        value = self.value() or "active"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "active"
        if value == "active":
            return queryset.filter(active=True)
        if value == "retired":
            return queryset.filter(active=False)
        return queryset


@admin.register(SlaPolicy)
class SlaPolicyAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    """The rule matrix: kind × urgency × channel × category (or group) × tier → target,
    thresholds, calendar. Most specific first within each kind."""

    change_list_template = "admin/sla/slapolicy/change_list.html"
    list_display = [
        "kind",
        "urgency_col",
        "channel_col",
        "category_col",
        "tier_col",
        "target_col",
        "thresholds_col",
        "calendar",
        "specificity",
        "version",
        "active",
        "note",
    ]
    list_display_links = ["kind"]
    list_filter = [ActiveFilter, "kind", "urgency", "channel", "tier", "calendar"]
    list_select_related = ["category", "category__parent", "category_group", "calendar"]
    ordering = ["kind", "-active", "-specificity", "id"]
    fieldsets = (
        (
            _("适用于"),
            {
                "fields": ("kind", "urgency", "channel", "category", "category_group", "tier"),
                "description": _(
                    "留空的维度匹配任意值。多条规则同时匹配时，限定维度最多的规则胜出；"
                    "同样多时，具体分类胜过分类组。同样具体且可能同时匹配的两条规则不能共存。"
                ),
            },
        ),
        (
            _("时限与日历"),
            {
                "fields": (
                    "target_minutes",
                    "remind_percent",
                    "chase_percent",
                    "escalate_every_percent",
                    "calendar",
                    "note",
                )
            },
        ),
        (
            _("版本"),
            {
                "fields": ("version", "active", "specificity", "created_at", "retired_at"),
                "description": _(
                    "修改规则会停用当前版本并保存新版本：已开始的时限仍按原版本计算。"
                ),
            },
        ),
    )
    readonly_fields = ["version", "active", "specificity", "created_at", "retired_at"]
    actions = ["retire_selected"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Versions are history (clocks point to them): retire a rule instead.
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.active:
            return [f.name for f in self.model._meta.fields if f.name != "id"]
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        # An edit saves `obj` as a new version (new pk); the admin then links to that one.
        sla_services.sla_rule_save(rule=obj, by=request.user)

    @admin.action(description=_("停用所选规则(已开始的时限不受影响)"))
    def retire_selected(self, request, queryset) -> None:
        done = 0
        for rule in queryset.filter(active=True):
            try:
                sla_services.sla_rule_retire(rule=rule, by=request.user)
                done += 1
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext("已停用 %(n)d 条规则。", "已停用 %(n)d 条规则。", done) % {"n": done},
                messages.SUCCESS,
            )

    # ------------------------------------------------------------------ columns

    @admin.display(description=_("紧急程度"), ordering="urgency")
    def urgency_col(self, obj):
        return obj.get_urgency_display() if obj.urgency else ANY

    @admin.display(description=_("受理渠道"), ordering="channel")
    def channel_col(self, obj):
        return obj.get_channel_display() if obj.channel else ANY

    @admin.display(description=_("分类/分类组"))
    def category_col(self, obj):
        if obj.category_id:
            return str(obj.category)
        if obj.category_group_id:
            return gettext("%(name)s(整组)") % {"name": obj.category_group.name}
        return ANY

    @admin.display(description=_("客户等级"), ordering="tier")
    def tier_col(self, obj):
        return obj.get_tier_display() if obj.tier else ANY

    @admin.display(description=_("目标时限"), ordering="target_minutes")
    def target_col(self, obj):
        return duration_text(obj.target_minutes * 60)

    @admin.display(description=_("阈值%"))
    def thresholds_col(self, obj):
        return f"{obj.remind_percent}/{obj.chase_percent}/100 +{obj.escalate_every_percent}"

    # ------------------------------------------------------------------ the tester

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "tester/",
                self.admin_site.admin_view(self.tester_view),
                name="{}_{}_tester".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        context = {
            "tester_url": reverse("admin:sla_slapolicy_tester"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def tester_view(self, request):
        if not (request.user.is_active and request.user.is_superuser):
            raise PermissionDenied
        form = RuleTesterForm(request.GET or None)
        result = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            category = data["category"]
            facts = Facts(
                urgency=data["urgency"],
                channel=data["channel"],
                category_id=category.pk if category else None,
                group_id=(category.parent_id or category.pk) if category else None,
                tier=data["tier"],
            )
            result = rule_trial(
                kind=data["kind"], facts=facts, department=data["department"], now=timezone.now()
            )
            if result["winner"] is not None:
                result["target"] = duration_text(result["winner"].target_minutes * 60)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("哪条规则适用？"),
            "form": form,
            "result": result,
            "changelist_url": reverse("admin:sla_slapolicy_changelist"),
        }
        return TemplateResponse(request, "admin/sla/slapolicy/tester.html", context)


class RuleTesterForm(forms.Form):
    kind = forms.ChoiceField(label=_("时限类型"), choices=ClockKind.choices)
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices)
    channel = forms.ChoiceField(label=_("受理渠道"), choices=Channel.choices)
    category = forms.ModelChoiceField(
        label=_("问题分类"),
        queryset=Category.objects.select_related("parent").order_by("parent_id", "sort_order"),
        required=False,
    )
    tier = forms.ChoiceField(
        label=_("客户等级"), choices=[("", _("普通客户")), *Tier.choices], required=False
    )
    department = forms.ModelChoiceField(
        label=_("签收部门"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        help_text=_("签收时限按部门工作日历计时(如有)。"),
    )


# ---------------------------------------------------------------------- calendars


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1
    fields = ["date", "kind", "name"]
    ordering = ["-date"]


class DepartmentCalendarInline(admin.TabularInline):
    model = DepartmentCalendar
    extra = 0
    fields = ["department"]
    verbose_name = _("使用该日历签收计时的部门")
    verbose_name_plural = _("使用该日历签收计时的部门")


class CalendarForm(forms.ModelForm):
    class Meta:
        model = Calendar
        fields = ["code", "name", *(f"hours_{d}" for d in WEEKDAYS)]
        help_texts = {
            f: _("如 08:00-21:00，或 09:00-12:00, 13:30-17:30；留空表示当天不上班。")
            for f in ("hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri")
        }


@admin.register(Calendar)
class CalendarAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    form = CalendarForm
    list_display = ["name", "code", "week_col", "holiday_count", "workday_count"]
    search_fields = ["name", "code"]
    fieldsets = (
        (None, {"fields": ("code", "name")}),
        (
            _("每周工作时间"),
            {
                "fields": (
                    "hours_mon",
                    "hours_tue",
                    "hours_wed",
                    "hours_thu",
                    "hours_fri",
                    "hours_sat",
                    "hours_sun",
                ),
                "description": _(
                    "节假日全天不计时；调休上班日按当天(周末无工作时间时按工作日)的时间计时。"
                    "法定节假日可用“载入法定节假日”操作或 manage.py load_holidays 导入，"
                    "导入后仍可修改。"
                ),
            },
        ),
    )
    inlines = [DepartmentCalendarInline, CalendarDayInline]
    actions = ["load_holidays_this_and_next_year"]

    def changelist_view(self, request, extra_context=None):
        # A year without its holidays counts every weekday as working time: say so while there
        # is time to load them (next year's from November on).
        for year, calendars in sla_selectors.calendars_missing_holidays(timezone.localdate()):
            self.message_user(
                request,
                gettext(
                    "%(cals)s 还没有 %(year)s 年的法定节假日：该年的承诺时限会把节假日算作"
                    "工作日。请选中后用“载入今明两年的中国法定节假日与调休”，或手工录入。"
                )
                % {"cals": "、".join(str(c) for c in calendars), "year": year},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("每周工作时间"))
    def week_col(self, obj: Calendar) -> str:
        labels = [
            gettext("一"),
            gettext("二"),
            gettext("三"),
            gettext("四"),
            gettext("五"),
            gettext("六"),
            gettext("日"),
        ]
        parts = []
        for label, field in zip(labels, obj.hours_fields(), strict=True):
            hours = getattr(obj, field).strip()
            parts.append(f"{label} {hours or '—'}")
        return semicolon().join(parts)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                holidays=Count("days", filter=Q(days__kind=DayKind.HOLIDAY)),
                workdays=Count("days", filter=Q(days__kind=DayKind.WORKDAY)),
            )
        )

    @admin.display(description=_("节假日"), ordering="holidays")
    def holiday_count(self, obj: Calendar) -> int:
        return obj.holidays

    @admin.display(description=_("调休上班"), ordering="workdays")
    def workday_count(self, obj: Calendar) -> int:
        return obj.workdays

    @admin.action(description=_("载入今明两年的中国法定节假日与调休"))
    def load_holidays_this_and_next_year(self, request, queryset) -> None:
        year = timezone.localdate().year
        for calendar in queryset:
            for y in (year, year + 1):
                try:
                    holidays, workdays = sla_services.calendar_load_holidays(
                        calendar=calendar, year=y
                    )
                except sla_services.HolidaySourceError as exc:
                    self.message_user(request, f"{calendar} · {exc}", messages.WARNING)
                    continue
                self.message_user(
                    request,
                    gettext("%(cal)s：已载入 %(year)s 年 %(h)d 天节假日、%(w)d 天调休上班。")
                    % {"cal": calendar, "year": y, "h": holidays, "w": workdays},
                    messages.SUCCESS,
                )


__all__ = ["CalendarAdmin", "SlaPolicyAdmin"]
