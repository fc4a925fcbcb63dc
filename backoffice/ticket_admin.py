"""The order (工单) admin: each user's queue, most urgent first, with buttons for exactly the
transitions they may take now. Every change goes through `workorders.services`."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from sla.display import due_text
from sla.selectors import clock_rule_text, promise_remaining
from workorders import services
from workorders.models import RequestStatus, Stage, Ticket, Urgency
from workorders.permissions import can_see_full_phone, mask_phone, may
from workorders.selectors import (
    allowed_transitions,
    ticket_timeline,
    tickets_matching_phone,
    tickets_visible_to,
)

from . import views
from .display import QuickActionCheckbox, choice_label, sla_badge_html
from .filters import (
    CallbackFilter,
    EscalationFilter,
    FlagFilter,
    HandlerFilter,
    PendingApprovalFilter,
    PeriodFilter,
    PresetFilter,
    QueueFilter,
    RiskFilter,
    ScopeFilter,
    SlaStatusFilter,
    StageFilter,
    preset_queryset,
    presets_of,
)
from .forms import (
    ACTION_FORMS,
    TRANSITION_FORMS,
    BulkChaseForm,
    BulkDepartmentForm,
    BulkHandlerForm,
    BulkSuperviseForm,
    action_allowed,
)
from .paginator import CappedCountPaginator
from .queue import queue_params, with_queue

BULK_LIMIT = 500

# Audit-row names (transitions and recorded actions) as people say them; message context
# "action" (the verb: "Dispatch", "Cancel"), as on the buttons.
ACTION_LABELS = {
    "report": pgettext_lazy("action", "吹哨"),
    "dispatch": pgettext_lazy("action", "派单"),
    "claim": pgettext_lazy("action", "签收"),
    "assign": pgettext_lazy("action", "指派"),
    "request_return": pgettext_lazy("action", "退单"),
    "rule_return": pgettext_lazy("action", "裁定退单"),
    "redispatch": pgettext_lazy("action", "转派"),
    "suspend": pgettext_lazy("action", "挂起"),
    "resume": pgettext_lazy("action", "解挂"),
    "reply": pgettext_lazy("action", "回单"),
    "reject_reply": pgettext_lazy("action", "驳回回单"),
    "close": pgettext_lazy("action", "回访办结"),
    "redo": pgettext_lazy("action", "重办"),
    "propose_redo": pgettext_lazy("action", "申请重办"),
    "cancel": pgettext_lazy("action", "作废"),
    "extend": pgettext_lazy("action", "延期"),
    "cohandle": pgettext_lazy("action", "协办"),
    "change_urgency": pgettext_lazy("action", "调整紧急程度"),
    "correct_category": pgettext_lazy("action", "更正分类"),
}
TIMELINE_TYPES = {
    "transition": _("流转"),
    "comment": _("备注"),
    "attachment": _("图片"),
    "chase": _("催办"),
    "supervision": _("督办"),
    "sla_event": _("时限"),
    "notification": _("通知"),
    "customer_note": _("客户补充"),
    "survey": _("客户评价"),
    "customer_message": _("客户短信"),
}


@admin.register(Ticket)
class TicketAdmin(QuickActionCheckbox, admin.ModelAdmin):
    # What a queue needs at 1366 px without scrolling sideways: time left (with the promise's
    # due time), urgency, flags, what it is, where it stands, who has it and when it came in.
    # Category, risk score and the rest are on the order page.
    list_display = [
        "number",
        "time_left",
        "urgency_display",
        "flags_display",
        "summary_display",
        "state",
        "department",
        "handler",
        "reported_at",
    ]
    list_display_links = ["number"]
    list_filter = [
        QueueFilter,
        PresetFilter,
        "state",
        StageFilter,
        "urgency",
        SlaStatusFilter,
        ScopeFilter,
        PendingApprovalFilter,
        PeriodFilter,
        CallbackFilter,
        EscalationFilter,
        RiskFilter,
        FlagFilter,
        "category",
        "department",
        HandlerFilter,
    ]
    date_hierarchy = "reported_at"
    # The search box appears when search_fields is set; get_search_results does the work.
    search_fields = ["number"]
    search_help_text = _("工单号、客户电话（完整号码或后四位）、客户姓名、标题或描述")
    # For roles that see masked numbers: a full number is searched by its last four digits.
    search_help_text_masked = _("工单号、客户电话后四位、客户姓名、标题或描述")
    list_select_related = ["category", "category__parent", "department", "handler"]
    # The queue by time left: breached first (their due time is past), then least time left
    # (index ticket_state_due over the open states). The 剩余时间 column sorts the same way, so
    # its arrow shows the order the rows are really in.
    ordering = ["promise_due_at", "id"]
    list_per_page = 50
    list_max_show_all = 200
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    actions = [
        "dispatch_to_department",
        "claim_selected",
        "assign_handler",
        "approve_extensions",
        "supervise_selected",
        "chase_selected",
    ]
    fieldsets = (
        (
            _("工单"),
            {
                "fields": (
                    "number",
                    "state",
                    "stage_display",
                    "channel",
                    ("reporter", "reporter_department"),
                    "reported_at",
                    "category",
                    ("urgency", "urgency_reason"),
                    "title",
                    "description",
                )
            },
        ),
        (
            _("客户"),
            {
                "fields": (
                    ("customer_name", "phone_display"),
                    "customer_address",
                    "customer_region",
                    "flags_display",
                    "repeat_of",
                )
            },
        ),
        (
            _("派单与处理"),
            {
                "fields": (
                    "department",
                    ("dispatched_at", "dispatched_by"),
                    ("claimed_at", "claimed_by"),
                    "handler",
                    ("return_count", "last_return_reason", "last_return_ruling"),
                    "redispatch_count",
                    ("suspended_until", "suspension_count"),
                    "extension_count",
                    ("promise_due_at", "sla_badge"),
                    ("chase_count", "supervise_count", "escalation_level"),
                    ("risk_display", "risk_alerted_at"),
                    ("is_regulator", "regulator_marked_at"),
                    ("regulator_signed_off_at", "regulator_signed_off_by"),
                )
            },
        ),
        (
            _("回复与回访"),
            {
                "classes": ("collapse",),
                "fields": (
                    ("replied_at", "replied_by"),
                    "reply_result",
                    "public_reply",
                    ("reply_cause", "reply_resolved"),
                    ("visit_at", "visit_by", "visit_channel"),
                    ("visit_outcome", "visit_resolved", "visit_satisfaction"),
                    "visit_note",
                    "closed_at",
                    "redo_count",
                    ("cancelled_at", "cancel_reason", "duplicate_of"),
                ),
            },
        ),
    )
    readonly_fields = [
        "stage_display",
        "phone_display",
        "flags_display",
        "sla_badge",
        "risk_display",
    ]

    class Media:
        css = {"all": ["backoffice/backoffice.css"]}

    # ------------------------------------------------------------------ scope and rights

    def get_queryset(self, request):
        qs = tickets_visible_to(request.user, super().get_queryset(request))
        return qs.with_sla()

    def has_add_permission(self, request):
        return False  # orders are reported through the web and the API

    def has_change_permission(self, request, obj=None):
        # Workflow owns the order: it changes only through the buttons (services).
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_dispatch_permission(self, request):
        return may(request.user, "dispatch")

    def has_claim_permission(self, request):
        return may(request.user, "claim")

    def has_assign_permission(self, request):
        return may(request.user, "assign")

    def has_approve_extension_permission(self, request):
        return may(request.user, "approve_extension")

    def has_supervise_permission(self, request):
        return may(request.user, "supervise")

    def has_chase_permission(self, request):
        return may(request.user, "chase")

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._viewer = request.user  # for phone_display (a ModelAdmin is shared by threads)
        return obj

    def _object_or_404(self, request, object_id) -> Ticket:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    # ------------------------------------------------------------------ search

    def get_search_results(self, request, queryset, search_term):
        """Number (full or prefix), phone (full, or the last four digits), customer name,
        title or description. Roles that see masked numbers search a phone by its last four
        digits only (workorders.selectors.tickets_matching_phone): they are told so, and the
        result never confirms the digits they may not see."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if re.fullmatch(r"[Gg][Dd]\d{0,14}", term):
            term = term.upper()
            if len(term) == 16:
                return queryset.filter(number=term), False
            return queryset.filter(number__startswith=term), False
        digits = re.sub(r"[\s\-]", "", term)
        if digits.isdigit():
            if len(digits) < 4:
                return queryset.none(), False
            if len(digits) > 4 and not can_see_full_phone(request.user):
                self.message_user(
                    request,
                    gettext("您的角色看不到客户的完整号码，已按后四位“%(last4)s”搜索。")
                    % {"last4": digits[-4:]},
                    level="info",
                )
            return tickets_matching_phone(request.user, digits, queryset), False
        return (
            queryset.filter(
                Q(customer_name__icontains=term)
                | Q(title__icontains=term)
                | Q(description__icontains=term)
            ),
            False,
        )

    def get_changelist_instance(self, request):
        try:
            cl = super().get_changelist_instance(request)
        except (ValueError, OverflowError) as exc:
            # The changelist parses its lookups and counts the rows here. A date-hierarchy year
            # of 9999 or 1 overflows in Django's own date maths (or converting to UTC): a bad
            # request, not a 500. (Unparsable lookups are Django's IncorrectLookupParameters.)
            raise BadRequest(str(exc)) from exc
        if not can_see_full_phone(request.user):
            cl.search_help_text = self.search_help_text_masked
        return cl

    # ------------------------------------------------------------------ columns

    @admin.display(description=_("标题/摘要"))
    def summary_display(self, obj: Ticket) -> str:
        return obj.summary

    # Ascending means general → urgent, none → some: the arrow says what the rows do.
    @admin.display(description=_("紧急程度"), ordering="is_urgent")
    def urgency_display(self, obj: Ticket):
        cls = "bo-urgent" if obj.is_urgent else "bo-general"
        return format_html('<span class="{}">{}</span>', cls, choice_label(Urgency, obj.urgency))

    @admin.display(description=_("越级风险"), ordering="risk_score")
    def risk_display(self, obj: Ticket):
        if not obj.risk_score:
            return ""
        alert = obj.risk_score >= settings.RISK_ALERT_THRESHOLD
        cls = "bo-risk bo-risk-alert" if alert else "bo-risk"
        return format_html('<span class="{}">{}</span>', cls, obj.risk_score)

    @admin.display(description=_("标记"), ordering="is_priority")
    def flags_display(self, obj: Ticket):
        flags = []
        if obj.is_vip:
            flags.append(("vip", gettext("VIP")))
        if obj.is_elderly:
            flags.append(("elderly", gettext("老年")))
        if obj.claimed_escalation:
            flags.append(("escalation", gettext("声称升级")))
        if obj.is_repeat:
            flags.append(("repeat", gettext("重复")))
        if not flags:
            return ""
        return format_html_join(" ", '<span class="bo-flag bo-flag-{}">{}</span>', flags)

    @admin.display(description=_("剩余时间"), ordering="promise_due_at")
    def sla_badge(self, obj: Ticket):
        status = getattr(obj, "sla_status", None)
        remaining, working = promise_remaining(obj)
        return sla_badge_html(status, remaining, working=working, due_at=obj.promise_due_at)

    @admin.display(description=_("剩余时间"), ordering="promise_due_at")
    def time_left(self, obj: Ticket):
        """The badge, and under it when the promise falls due (the 承诺时限 column's job)."""
        badge = self.sla_badge(obj)
        running = getattr(obj, "sla_remaining", None) is not None
        if obj.promise_due_at is None or not running:
            return badge
        return format_html(
            '{}<br><span class="bo-due">{}</span>',
            badge,
            gettext("%(due)s 到期") % {"due": due_text(obj.promise_due_at)},
        )

    @admin.display(description=_("阶段"))
    def stage_display(self, obj: Ticket) -> str:
        return Stage(obj.stage).label

    @admin.display(description=_("客户电话"))
    def phone_display(self, obj: Ticket) -> str:
        viewer = getattr(obj, "_viewer", None)
        if viewer is not None and can_see_full_phone(viewer, obj):
            return obj.customer_phone
        return mask_phone(obj.customer_phone)

    # ------------------------------------------------------------------ order page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self._object_or_404(request, object_id)
        context = {**self.order_page_context(request, ticket), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def history_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def order_page_context(self, request, ticket: Ticket) -> dict:
        user = request.user
        now = timezone.now()
        base = f"admin:{self.opts.app_label}_{self.opts.model_name}"
        transitions = [
            {
                "name": name,
                "label": TRANSITION_FORMS[name].label,
                "url": reverse(f"{base}_transition", args=[ticket.pk, name]),
            }
            for name in allowed_transitions(user, ticket)
            if name in TRANSITION_FORMS
        ]
        transitions += [
            {
                "name": name,
                "label": form.label,
                "url": reverse(f"{base}_transition", args=[ticket.pk, name]),
            }
            for name, form in ACTION_FORMS.items()
            if (ticket.is_open or getattr(form, "when_closed", False))
            and action_allowed(user, name, ticket)
        ]
        # The action forms keep the queue the order was opened from (“保存并处理下一张”).
        queue = queue_params(request)
        for t in transitions:
            t["url"] = with_queue(t["url"], queue)
        clocks = list(ticket.clocks.select_related("department").order_by("started_at", "id"))
        for clock in clocks:
            clock.current_status = clock.status(now)
            rem = clock.remaining_seconds(now)
            clock.badge = sla_badge_html(
                clock.current_status,
                None if rem is None else timedelta(seconds=rem),
                working=clock.counts_working_time,
                due_at=clock.due_at,
            )
            clock.rule_text = clock_rule_text(clock)
        may_decide_ext = may(user, "approve_extension", ticket)
        may_decide_sus = may(user, "suspend", ticket)
        extensions = list(ticket.extensions.select_related("requested_by", "decided_by"))
        for ext in extensions:
            ext.can_decide = ext.status == RequestStatus.PENDING and may_decide_ext
        suspensions = list(ticket.suspensions.select_related("requested_by", "decided_by"))
        for sus in suspensions:
            sus.can_decide = sus.status == RequestStatus.PENDING and may_decide_sus
        attachments = [
            {
                "obj": a,
                "url": reverse(f"{base}_attachment", args=[ticket.pk, a.pk]),
                "thumb_url": reverse(f"{base}_attachment_thumb", args=[ticket.pk, a.pk]),
                "is_image": (a.content_type or "").startswith("image/"),
            }
            for a in ticket.attachments.select_related("uploaded_by")
        ]
        timeline = ticket_timeline(ticket, user=user)
        for item in timeline:
            item["type_label"] = TIMELINE_TYPES.get(item["type"], item["type"])
            if item["type"] == "transition":
                item["name_label"] = ACTION_LABELS.get(item["name"], item["name"])
        return {
            "bo_transitions": transitions,
            "bo_clocks": clocks,
            "bo_extensions": extensions,
            "bo_suspensions": suspensions,
            "bo_attachments": attachments,
            "bo_timeline": timeline,
            "bo_decision_base": reverse(f"{base}_change", args=[ticket.pk]),
            "bo_sla_badge": self.sla_badge(ticket),
            "bo_dashboard_url": reverse(f"{base}_dashboard"),
        }

    PRESET_COUNT_CAP = 99

    def preset_tabs(self, request) -> list[dict]:
        """The user's role queues as tabs, each with its count (capped: one cheap query each,
        however long the queue)."""
        base = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        visible = tickets_visible_to(request.user)
        now = timezone.now()
        current = request.GET.get(PresetFilter.parameter_name)
        cap = self.PRESET_COUNT_CAP
        tabs = []
        for preset in presets_of(request.user):
            qs = preset_queryset(visible, preset.slug, request.user, now)
            n = qs.order_by().values("pk")[: cap + 1].count()
            tabs.append(
                {
                    "slug": preset.slug,
                    "label": preset.label,
                    "count": f"{cap}+" if n > cap else str(n),
                    "url": f"{base}?{PresetFilter.parameter_name}={preset.slug}",
                    "current": preset.slug == current,
                }
            )
        return tabs

    def queue_links(self, request) -> list[dict]:
        base = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        value = request.GET.get(QueueFilter.parameter_name) or QueueFilter.OPEN
        if request.GET.get(PresetFilter.parameter_name):
            value = None  # a preset is open work of its own; no switch is "current"
        return [
            {"label": label, "url": base + qs, "current": value == key}
            for key, label, qs in (
                (QueueFilter.OPEN, gettext("进行中"), ""),
                (QueueFilter.DONE, gettext("已结束"), "?queue=done"),
                (QueueFilter.ALL, gettext("全部"), "?queue=all"),
            )
        ]

    def changelist_view(self, request, extra_context=None):
        context = {
            "bo_preset_tabs": self.preset_tabs(request),
            "bo_queue_links": self.queue_links(request),
            "bo_dashboard_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_dashboard"
            ),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    # ------------------------------------------------------------------ extra URLs

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view

        def bind(fn):
            def view(request, *args, **kwargs):
                if not self.has_view_permission(request):
                    raise Http404
                return fn(self, request, *args, **kwargs)

            return wrap(view)

        def mine(fn):
            # The inbox is the user's own: any back-office user, no right on orders needed.
            def view(request, *args, **kwargs):
                return fn(self, request, *args, **kwargs)

            return wrap(view)

        return [
            path("dashboard/", bind(views.dashboard_view), name="{}_{}_dashboard".format(*info)),
            path("inbox/", mine(views.inbox_view), name="{}_{}_inbox".format(*info)),
            path("inbox/read/", mine(views.inbox_read_view), name="{}_{}_inbox_read".format(*info)),
            path(
                "inbox/<int:pk>/open/",
                mine(views.inbox_open_view),
                name="{}_{}_inbox_open".format(*info),
            ),
            path("workload/", bind(views.workload_view), name="{}_{}_workload".format(*info)),
            path(
                "<path:object_id>/do/<slug:name>/",
                bind(views.transition_view),
                name="{}_{}_transition".format(*info),
            ),
            path(
                "<path:object_id>/decide/<slug:kind>/<int:request_id>/<slug:decision>/",
                bind(views.decision_view),
                name="{}_{}_decide".format(*info),
            ),
            path(
                "<path:object_id>/attachment/<int:attachment_id>/",
                bind(views.attachment_view),
                name="{}_{}_attachment".format(*info),
            ),
            path(
                "<path:object_id>/attachment/<int:attachment_id>/thumb/",
                bind(views.attachment_thumb_view),
                name="{}_{}_attachment_thumb".format(*info),
            ),
            *super().get_urls(),
        ]

    # ------------------------------------------------------------------ bulk actions

    def _too_many(self, request, queryset) -> bool:
        if queryset.order_by().values("pk")[: BULK_LIMIT + 1].count() > BULK_LIMIT:
            self.message_user(
                request,
                gettext("一次最多处理 %(n)d 张工单，请缩小范围。") % {"n": BULK_LIMIT},
                level="error",
            )
            return True
        return False

    def _bulk_form(self, request, queryset, form, action: str, title: str):
        tickets = list(queryset.order_by("number"))
        for t in tickets:
            # What the form shows is what it applies to: shown again after an input error, it
            # keeps the versions it first showed.
            seen = views.seen_version(request, t)
            t.seen_version = t.version if seen is None else seen
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": title,
            "form": form,
            "tickets": tickets,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "backoffice/bulk_form.html", context)

    @admin.action(description=_("派往部门…"), permissions=["dispatch"])
    def dispatch_to_department(self, request, queryset):
        if self._too_many(request, queryset):
            return None
        form = BulkDepartmentForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            department = form.cleaned_data["department"]
            views.bulk_apply(
                request,
                queryset.order_by("number"),
                lambda t, seen: services.ticket_dispatch(
                    ticket=t, by=request.user, department=department, expected_version=seen
                ),
                gettext("已派往%(dept)s") % {"dept": department.name},
            )
            return None
        return self._bulk_form(
            request, queryset, form, "dispatch_to_department", gettext("派往部门")
        )

    @admin.action(description=_("签收所选工单"), permissions=["claim"])
    def claim_selected(self, request, queryset):
        if self._too_many(request, queryset):
            return None
        views.bulk_apply(
            request,
            queryset.order_by("number"),
            lambda t, seen: services.ticket_claim(ticket=t, by=request.user, expected_version=seen),
            gettext("已签收"),
        )
        return None

    @admin.action(description=_("指派处理人…"), permissions=["assign"])
    def assign_handler(self, request, queryset):
        if self._too_many(request, queryset):
            return None
        data = request.POST if "apply" in request.POST else None
        form = BulkHandlerForm(data, user=request.user)
        if "apply" in request.POST and form.is_valid():
            handler = form.cleaned_data["handler"]
            views.bulk_apply(
                request,
                queryset.order_by("number"),
                lambda t, seen: services.ticket_assign(
                    ticket=t, by=request.user, handler=handler, expected_version=seen
                ),
                gettext("已指派给%(user)s") % {"user": handler},
            )
            return None
        return self._bulk_form(
            request, queryset, form, "assign_handler", pgettext("action", "指派处理人")
        )

    @admin.action(description=_("批准所选工单的延期申请"), permissions=["approve_extension"])
    def approve_extensions(self, request, queryset):
        if self._too_many(request, queryset):
            return None
        views.bulk_apply(
            request,
            queryset.order_by("number"),
            lambda t, _seen: views.approve_pending_extension(t, request.user),
            gettext("已批准延期"),
        )
        return None

    def _bulk_note(self, request, queryset, *, form_class, action, title, apply, done):
        """A bulk action with a note: the form first, then `apply(ticket, note)` per order
        through its service (each refusal reported with its reason)."""
        if self._too_many(request, queryset):
            return None
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            note = form.cleaned_data["note"]
            views.bulk_apply(
                request, queryset.order_by("number"), lambda t, _seen: apply(t, note), done
            )
            return None
        return self._bulk_form(request, queryset, form, action, title)

    @admin.action(description=_("督办所选工单…"), permissions=["supervise"])
    def supervise_selected(self, request, queryset):
        return self._bulk_note(
            request,
            queryset,
            form_class=BulkSuperviseForm,
            action="supervise_selected",
            title=pgettext("action", "督办"),
            apply=lambda t, note: services.ticket_supervise(ticket=t, by=request.user, note=note),
            done=gettext("已督办"),
        )

    @admin.action(description=_("催办所选工单…"), permissions=["chase"])
    def chase_selected(self, request, queryset):
        return self._bulk_note(
            request,
            queryset,
            form_class=BulkChaseForm,
            action="chase_selected",
            title=pgettext("action", "催办"),
            apply=lambda t, note: services.ticket_chase(ticket=t, by=request.user, note=note),
            done=gettext("已催办"),
        )
