"""The fault board in the back office (the Django admin, like the order queue): the board
(`/admin/faults/fault/`), the fault page with its plot, children and record, and the action
forms. Thin: parse, call `faults.services` or `faults.selectors`, render; domain errors become
messages (or form errors, keeping what was typed)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from backoffice.display import sla_badge_html
from sla.selectors import annotate_sla_status
from workorders.errors import DomainError, Invalid
from workorders.selectors import tickets_visible_to

from .forms import ACTION_FORMS
from .models import Fault, FaultState
from .permissions import may
from .plot import PlotPoint, cluster_svg
from .selectors import board, board_counts, faults_visible_to, link_candidates

ACTION_LABELS = {
    "detect": pgettext_lazy("fault action", "发现"),
    "confirm": pgettext_lazy("fault action", "确认"),
    "dismiss": pgettext_lazy("fault action", "排除"),
    "link": pgettext_lazy("fault action", "关联工单"),
    "unlink": pgettext_lazy("fault action", "解除关联"),
    "decline": pgettext_lazy("fault action", "报单人表示无关"),
    "set_eta": pgettext_lazy("fault action", "设置预计恢复时间"),
    "resolve": pgettext_lazy("fault action", "恢复"),
    "close": pgettext_lazy("fault action", "关闭"),
}
# Buttons on the board and the fault page, in this order.
BUTTONS = ("confirm", "dismiss", "set_eta", "resolve", "close")
STATE_OF_BUTTON = {
    "confirm": [FaultState.SUSPECTED],
    "dismiss": [FaultState.SUSPECTED],
    "set_eta": [FaultState.CONFIRMED],
    "resolve": [FaultState.CONFIRMED],
    "close": [FaultState.RESOLVED],
}
TABS = [
    ("open", pgettext_lazy("faults", "进行中")),
    ("suspected", FaultState.SUSPECTED.label),
    ("confirmed", FaultState.CONFIRMED.label),
    ("resolved", FaultState.RESOLVED.label),
    ("closed", FaultState.CLOSED.label),
    ("dismissed", FaultState.DISMISSED.label),
    ("all", pgettext_lazy("faults", "全部")),
]


def buttons_for(user, fault: Fault) -> list[dict]:
    return [
        {
            "name": name,
            "label": ACTION_FORMS[name].label,
            "url": reverse("admin:faults_fault_do", args=[fault.pk, name]),
        }
        for name in BUTTONS
        if fault.state in STATE_OF_BUTTON[name] and may(user, name, fault)
    ]


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = ["number", "state", "category", "region", "order_count", "eta"]

    class Media:
        css = {"all": ["backoffice/backoffice.css", "faults/faults.css"]}

    # ------------------------------------------------------------------ rights

    def get_queryset(self, request):
        return faults_visible_to(request.user, super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        user = request.user
        if obj is None:
            return user.is_active and user.has_perm("faults.view_fault")
        return faults_visible_to(user).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False  # faults are detected (or found by hand from the board's orders)

    def has_change_permission(self, request, obj=None):
        return False  # a fault changes only through its actions (services)

    def has_delete_permission(self, request, obj=None):
        return False

    def _fault_or_404(self, request, object_id) -> Fault:
        try:
            pk = int(object_id)
        except (TypeError, ValueError):
            raise Http404 from None
        fault = (
            faults_visible_to(request.user)
            .select_related("category__parent", "department", "confirmed_by", "resolved_by")
            .filter(pk=pk)
            .first()
        )
        if fault is None:
            raise Http404
        return fault

    def _context(self, request, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": title,
            "has_view_permission": True,
        }

    # ------------------------------------------------------------------ the board

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        show = request.GET.get("show", "open")
        if show not in dict(TABS):
            show = "open"
        now = timezone.now()
        rows = board(request.user, show=show, now=now)
        for row in rows:
            row.badge = sla_badge_html(row.worst_sla, None) if row.worst_sla else ""
            row.buttons = buttons_for(request.user, row.fault)
            row.url = reverse("admin:faults_fault_change", args=[row.fault.pk])
        counts = board_counts(request.user)
        context = {
            **self._context(request, _("群障看板")),
            "rows": rows,
            "show": show,
            "tabs": [
                {
                    "key": key,
                    "label": label,
                    "url": f"?show={key}",
                    "count": (
                        counts.get(key)
                        if key in counts
                        else counts["suspected"] + counts["confirmed"]
                        if key == "open"
                        else sum(counts.values())
                    ),
                }
                for key, label in TABS
            ],
            "now": now,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "faults/board.html", context)

    # ------------------------------------------------------------------ the fault page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        fault = self._fault_or_404(request, object_id)
        context = self.page_context(request, fault)
        return TemplateResponse(request, "faults/fault_page.html", context)

    def page_context(self, request, fault: Fault, **forms) -> dict:
        user = request.user
        now = timezone.now()
        links = list(
            fault.links.select_related("ticket", "linked_by", "unlinked_by").order_by(
                "unlinked_at", "ticket__number"
            )
        )
        visible = set(
            tickets_visible_to(user)
            .filter(pk__in=[link.ticket_id for link in links])
            .values_list("pk", flat=True)
        )
        sla = {
            t.pk: t
            for t in annotate_sla_status(
                tickets_visible_to(user).filter(pk__in=visible), now=now
            ).only("pk")
        }
        active, history = [], []
        for link in links:
            link.visible = link.ticket_id in visible
            t = sla.get(link.ticket_id)
            link.badge = sla_badge_html(t.sla_status, t.sla_remaining) if t is not None else ""
            link.url = reverse("admin:workorders_ticket_change", args=[link.ticket_id])
            (active if link.unlinked_at is None else history).append(link)
        points = [
            PlotPoint(
                link.ticket.number,
                None if link.ticket.latitude is None else float(link.ticket.latitude),
                None if link.ticket.longitude is None else float(link.ticket.longitude),
                link.ticket.reported_at,
                link.ticket.is_open,
            )
            for link in active
        ]
        center = (
            (float(fault.center_lat), float(fault.center_lng))
            if fault.center_lat is not None
            else None
        )
        may_link = fault.can_link and may(user, "link", fault)
        audit = list(fault.audit.select_related("actor"))
        for row in audit:
            row.label = ACTION_LABELS.get(row.transition, row.transition)
        return {
            **self._context(request, fault.number),
            "fault": fault,
            "original": fault,
            "buttons": buttons_for(user, fault),
            "active": active,
            "history": history,
            "audit": audit,
            "plot": cluster_svg(
                points=points,
                center=center,
                radius_m=fault.radius_m,
                title=_("群障 %(number)s 的工单分布") % {"number": fault.number},
            ),
            "may_link": may_link,
            "may_unlink": fault.can_link and may(user, "unlink", fault),
            "candidates": link_candidates(fault, user) if may_link else [],
            "link_form": forms.get("link_form") or ACTION_FORMS["link"](fault=fault, user=user),
            "board_url": reverse("admin:faults_fault_changelist"),
        }

    def history_view(self, request, object_id, extra_context=None):
        raise Http404

    def delete_view(self, request, object_id, extra_context=None):
        raise Http404

    # ------------------------------------------------------------------ actions

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/do/<slug:name>/",
                wrap(self.action_view),
                name="faults_fault_do",
            ),
            *super().get_urls(),
        ]

    def action_view(self, request, object_id, name: str):
        """GET: the action's small form; POST: call the service. Bad input stays on the
        form; other refusals come back as a message on the fault page."""
        fault = self._fault_or_404(request, object_id)
        form_class = ACTION_FORMS.get(name)
        if form_class is None:
            raise Http404
        page = reverse("admin:faults_fault_change", args=[fault.pk])
        inline = name in ("link", "unlink")  # posted from the fault page itself
        if inline and request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = form_class(
            request.POST if request.method == "POST" else None, fault=fault, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            try:
                message = form.submit()
            except Invalid as exc:
                known = {k: v for k, v in exc.fields.items() if k in form.fields}
                for field, msgs in known.items():
                    for m in msgs:
                        form.add_error(field, str(m))
                rest = [str(m) for k, v in exc.fields.items() if k not in known for m in v]
                if rest or not known:
                    form.add_error(None, " ".join(rest) or str(exc.message))
            except DomainError as exc:
                messages.error(request, f"{fault.number}：{exc.message}")
                return redirect(page)
            else:
                messages.success(request, f"{fault.number}：{message}")
                return redirect(page)
        if inline:
            if name == "link":
                context = self.page_context(request, fault, link_form=form)
                return TemplateResponse(request, "faults/fault_page.html", context, status=400)
            errors = [str(e) for errs in form.errors.values() for e in errs]
            messages.error(request, f"{fault.number}：{' '.join(errors)}")
            return redirect(page)
        context = {
            **self._context(request, f"{fault.number} · {form.label}"),
            "fault": fault,
            "form": form,
            "action_label": form.label,
            "cancel_url": page,
            "board_url": reverse("admin:faults_fault_changelist"),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "faults/action_form.html", context, status=status)
