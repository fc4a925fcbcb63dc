"""Back-office views wired into the order admin (`TicketAdmin.get_urls`): the transition and
decision forms of the order page, protected attachment thumbnails, and the department
dashboard. Thin: parse, call a service or selector, render; domain errors become messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Department
from notifications.selectors import notifications_for, unread_count
from notifications.services import notification_mark_read
from sla.models import Clock, ClockKind, SlaStatus
from sla.selectors import (
    clock_met_counts,
    on_time_closure_counts,
    promise_remaining,
    sla_status_q,
)
from workorders import services
from workorders.errors import DomainError, Invalid, NotAllowed
from workorders.http import attachment_response
from workorders.models import (
    OPEN_STATES,
    AutoAssignRule,
    ExtensionRequest,
    RequestStatus,
    State,
    SuspensionRequest,
    Ticket,
)
from workorders.permissions import may_view_workload, sees_all_tickets
from workorders.selectors import allowed_transitions, handler_workload, tickets_visible_to

from .display import sla_badge_html
from .filters import local_day_bounds, local_week_start, week_sign_for_clocks
from .forms import ACTION_FORMS, TRANSITION_FORMS, DecisionForm, action_allowed
from .paginator import CappedCountPaginator
from .queue import queue_of, queue_params, with_queue


def error_text(exc: DomainError) -> str:
    """One line for a message: the error and any field errors it carries."""
    parts = [str(exc.message)]
    for msgs in exc.fields.values():
        parts.extend(str(m) for m in msgs)
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    if len(seen) > 1 and seen[0] == str(Invalid.default_message):
        seen = seen[1:]
    return " ".join(seen)


def visible_ticket_or_404(request: HttpRequest, object_id) -> Ticket:
    """The order if this user may see it; 404 otherwise (never 403: no probing)."""
    qs = tickets_visible_to(request.user).select_related(
        "department", "handler", "category", "promise_clock"
    )
    try:
        return qs.get(pk=int(object_id))
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def change_url(ticket: Ticket) -> str:
    return reverse("admin:workorders_ticket_change", args=[ticket.pk])


def changelist_url(**params) -> str:
    url = reverse("admin:workorders_ticket_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _admin_context(model_admin, request, ticket: Ticket | None, title: str) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "app_label": model_admin.model._meta.app_label,
        "original": ticket,
        "title": title,
        "has_view_permission": True,
    }


def transition_view(model_admin, request: HttpRequest, object_id, name: str) -> HttpResponse:
    """GET: the small form of a transition (or of an action such as assign); POST: call the
    service. Domain refusals come back as an error message on the order page."""
    ticket = visible_ticket_or_404(request, object_id)
    form_class = TRANSITION_FORMS.get(name) or ACTION_FORMS.get(name)
    if form_class is None:
        raise Http404
    queue = queue_params(request)
    order_url = with_queue(change_url(ticket), queue)
    if request.method == "POST":
        form = form_class(request.POST, ticket=ticket, user=request.user)
        if form.is_valid():
            # Where the order stands in the user's queue, read before the action moves it.
            position = (
                queue_of(model_admin, request, ticket, queue) if NEXT_VAR in request.POST else None
            )
            try:
                message = form.submit()
            except Invalid as exc:
                # Bad input: show it on the form; what the user typed stays.
                known = {k: v for k, v in exc.fields.items() if k in form.fields}
                for field, msgs in known.items():
                    for m in msgs:
                        form.add_error(field, str(m))
                rest = [str(m) for k, v in exc.fields.items() if k not in known for m in v]
                if rest or not known:
                    form.add_error(None, " ".join(rest) or str(exc.message))
            except DomainError as exc:
                messages.error(
                    request,
                    _("%(number)s：%(error)s")
                    % {"number": ticket.number, "error": error_text(exc)},
                )
                return redirect(order_url)
            else:
                messages.success(
                    request,
                    _("%(number)s：%(message)s") % {"number": ticket.number, "message": message},
                )
                if NEXT_VAR in request.POST:
                    return _redirect_next(request, position, queue)
                return redirect(order_url)
    else:
        allowed = (
            name in allowed_transitions(request.user, ticket)
            if name in TRANSITION_FORMS
            else action_allowed(request.user, name, ticket)
        )
        if not allowed:
            messages.error(
                request,
                _("%(number)s：%(error)s")
                % {"number": ticket.number, "error": NotAllowed.default_message},
            )
            return redirect(order_url)
        form = form_class(ticket=ticket, user=request.user)
        form.prefill(request.GET)
    context = _admin_context(
        model_admin,
        request,
        ticket,
        _("%(action)s：%(number)s") % {"action": form_class.label, "number": ticket.number},
    )
    context.update(
        {
            "form": form,
            "ticket": ticket,
            "action_label": form_class.label,
            "cancel_url": order_url,
            "queue_url": with_queue_changelist(queue),
            "templates": [
                {"obj": tpl, "url": _template_url(request, tpl)}
                for tpl in getattr(form, "templates", ())
            ],
            "next_var": NEXT_VAR,
        }
    )
    return TemplateResponse(request, "backoffice/transition_form.html", context)


NEXT_VAR = "_next"


def _template_url(request: HttpRequest, template) -> str:
    params = request.GET.copy()
    params["template"] = str(template.pk)
    return f"{request.path}?{params.urlencode()}"


def with_queue_changelist(params: str) -> str:
    url = reverse("admin:workorders_ticket_changelist")
    return f"{url}?{params}" if params else url


def _redirect_next(request: HttpRequest, position, params: str) -> HttpResponse:
    """After “保存并处理下一张”: the next order of the queue the user came from, or the
    queue itself with a message when there is none after this one."""
    nxt = position.next() if position is not None else None
    if nxt is not None:
        return redirect(with_queue(change_url(nxt), params))
    if position is not None and position.queryset.exclude(pk=position.pk).exists():
        messages.info(request, _("已是当前队列的最后一张工单。"))
    else:
        messages.info(request, _("当前队列已处理完，没有下一张工单。"))
    return redirect(with_queue_changelist(params))


def decision_view(
    model_admin, request: HttpRequest, object_id, kind: str, request_id: int, decision: str
) -> HttpResponse:
    """Approve or refuse a pending extension or suspension request of this order."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    ticket = visible_ticket_or_404(request, object_id)
    model = {"extension": ExtensionRequest, "suspension": SuspensionRequest}.get(kind)
    if model is None or decision not in ("approve", "refuse"):
        raise Http404
    req = model.objects.filter(pk=request_id, ticket=ticket).first()
    if req is None:
        raise Http404
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        if kind == "extension":
            services.ticket_decide_extension(
                request=req, by=request.user, approve=decision == "approve", note=note
            )
        elif decision == "approve":
            services.ticket_approve_suspension(request=req, by=request.user)
        else:
            services.ticket_refuse_suspension(request=req, by=request.user, note=note)
    except DomainError as exc:
        messages.error(
            request,
            _("%(number)s：%(error)s") % {"number": ticket.number, "error": error_text(exc)},
        )
    else:
        done = {
            ("extension", "approve"): _("已批准延期申请。"),
            ("extension", "refuse"): _("已驳回延期申请。"),
            ("suspension", "approve"): _("已批准挂起申请，工单已挂起。"),
            ("suspension", "refuse"): _("已驳回挂起申请。"),
        }[(kind, decision)]
        messages.success(
            request, _("%(number)s：%(message)s") % {"number": ticket.number, "message": done}
        )
    return redirect(change_url(ticket))


def attachment_view(model_admin, request: HttpRequest, object_id, attachment_id: int):
    """An order's photo, only for users who may see the order."""
    ticket = visible_ticket_or_404(request, object_id)
    return attachment_response(ticket.attachments.filter(pk=attachment_id).first())


def attachment_thumb_view(model_admin, request: HttpRequest, object_id, attachment_id: int):
    """The photo's thumbnail for the order page's strip (the full photo is one click away)."""
    ticket = visible_ticket_or_404(request, object_id)
    return attachment_response(ticket.attachments.filter(pk=attachment_id).first(), thumbnail=True)


# --------------------------------------------------------------------------- bulk actions


def seen_version(request: HttpRequest, ticket: Ticket) -> int | None:
    """The version of `ticket` the bulk form showed (`version_<id>`), if it showed one."""
    raw = request.POST.get(f"version_{ticket.pk}", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def bulk_apply(
    request: HttpRequest,
    tickets: Iterable[Ticket],
    apply: Callable[[Ticket, int | None], object],
    done: str,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Run `apply(ticket, version the form showed)` on each order through its service; report
    per order what succeeded and what was refused and why (one success message, one error
    message per refusal). The service locks each order: an order someone changed since the
    form showed it is refused, not overwritten."""
    ok: list[str] = []
    refused: list[tuple[str, str]] = []
    for ticket in tickets:
        try:
            apply(ticket, seen_version(request, ticket))
        except DomainError as exc:
            refused.append((ticket.number, error_text(exc)))
        else:
            ok.append(ticket.number)
    if ok:
        messages.success(
            request,
            _("%(done)s %(n)d 张：%(numbers)s")
            % {"done": done, "n": len(ok), "numbers": "、".join(ok)},
        )
    for number, why in refused:
        messages.error(
            request, _("%(number)s 未执行：%(reason)s") % {"number": number, "reason": why}
        )
    return ok, refused


def approve_pending_extension(ticket: Ticket, user) -> None:
    pending = ticket.extensions.filter(status=RequestStatus.PENDING).first()
    if pending is None:
        raise Invalid(_("没有待审批的延期申请。"))
    services.ticket_decide_extension(request=pending, by=user, approve=True)


# --------------------------------------------------------------------------- dashboard


PRIORITY = ("-is_urgent", "-is_priority", "promise_due_at", "id")


def _capped_count(qs) -> str:
    """An exact count up to the cap, else "cap+" (never COUNT(*) over a huge backlog)."""
    cap = CappedCountPaginator(qs, 1).cap
    n = qs.order_by().values("pk")[: cap + 1].count()
    return f"{cap}+" if n > cap else str(n)


def _top(qs, n: int = 20) -> tuple[list[Ticket], str]:
    """The first `n` orders in queue priority (DESIGN.md §5) and the (capped) count. Few
    matches are fetched by id first, so the planner never walks the whole priority index
    looking for them (see CappedCountPaginator)."""
    count = _capped_count(qs)
    if not count.endswith("+") and int(count) <= CappedCountPaginator.SMALL:
        ids = list(qs.order_by().values_list("pk", flat=True))
        qs = qs.filter(pk__in=ids)
    rows = list(qs.order_by(*PRIORITY)[:n])
    for t in rows:
        remaining, working = promise_remaining(t)
        t.badge = sla_badge_html(t.sla_status, remaining, working=working, due_at=t.promise_due_at)
    return rows, count


def _rate(met: int, total: int) -> str | None:
    return None if not total else f"{met * 100 / total:.1f}%"


def dashboard_view(model_admin, request: HttpRequest) -> HttpResponse:
    """The department's day at a glance, for the user's scope; every number links to the
    changelist filtered to the orders behind it."""
    user = request.user
    now = timezone.now()
    scope = tickets_visible_to(user)
    if not sees_all_tickets(user) and user.department_id:
        # Leads and handlers: their department's orders (the visible set also holds orders
        # they reported or handle elsewhere; the dashboard is about the department).
        scope = scope.filter(department__path__startswith=user.department.path)

    # Open states only: the day's work (closed this week has its own figure below), and the
    # count stays an index range over open orders instead of the whole history.
    by_state = dict(
        scope.filter(state__in=OPEN_STATES).values_list("state").annotate(n=Count("id")).order_by()
    )
    base = {} if sees_all_tickets(user) else {"scope": "my_department"}

    def link(**params) -> str:
        return changelist_url(**base, **params)

    states = [
        {
            "label": label,
            "count": by_state.get(value, 0),
            "url": link(state__exact=value),
        }
        for value, label in State.choices
        if value in OPEN_STATES
    ]

    unclaimed = list(
        Clock.objects.filter(
            kind=ClockKind.SIGN_FOR,
            stopped_at__isnull=True,
            voided=False,
            ticket__in=scope.filter(state=State.DISPATCHED).values("pk"),
        )
        .select_related("ticket", "department")
        .order_by("due_at")[:20]
    )
    for clock in unclaimed:
        clock.remaining = clock.due_at - now

    sla_scope = scope.select_related("department", "handler", "promise_clock").with_sla(now)
    at_risk, at_risk_count = _top(sla_scope.filter(sla_status_q(SlaStatus.AT_RISK, now)))
    breached, breached_count = _top(sla_scope.filter(sla_status_q(SlaStatus.BREACHED, now)))
    start, end = local_day_bounds(now)
    due_today = scope.filter(
        promise_clock__stopped_at__isnull=True,
        promise_clock__voided=False,
        promise_due_at__gte=start,
        promise_due_at__lt=end,
    )
    due_today_count = _capped_count(due_today)

    week = local_week_start(now)
    closed_met, closed = on_time_closure_counts(scope.filter(closed_at__gte=week))
    eff_met, _eff_closed = on_time_closure_counts(scope.filter(closed_at__gte=week), original=False)
    sign_met, sign_stopped = clock_met_counts(week_sign_for_clocks(user))

    context = _admin_context(model_admin, request, None, _("部门看板"))
    context.update(
        {
            # The role's queues (待派单, 待签收, 督办中…), each a tile linking to its preset.
            "presets": model_admin.preset_tabs(request),
            "department": None if sees_all_tickets(user) else user.department,
            "states": states,
            "unclaimed": unclaimed,
            "unclaimed_count": by_state.get(State.DISPATCHED, 0),
            "unclaimed_url": link(state__exact=State.DISPATCHED),
            "at_risk": at_risk,
            "at_risk_count": at_risk_count,
            "at_risk_url": link(sla=SlaStatus.AT_RISK),
            "breached": breached,
            "breached_count": breached_count,
            "breached_url": link(sla=SlaStatus.BREACHED),
            "due_today_count": due_today_count,
            "due_today_url": link(period="due_today"),
            "closure_rate": _rate(closed_met, closed),
            "closure_rate_effective": _rate(eff_met, closed),
            "closed_week": closed,
            "closed_week_url": link(period="closed_week"),
            "response_rate": _rate(sign_met, sign_stopped),
            "sign_stopped": sign_stopped,
            "sign_met": sign_met,
            "signed_week_url": link(period="signed_week"),
            "workload_url": (
                reverse("admin:workorders_ticket_workload") if may_view_workload(user) else ""
            ),
            "week_start": week,
            "now": now,
            "one_hour": timedelta(hours=1),
        }
    )
    return TemplateResponse(request, "backoffice/dashboard.html", context)


# --------------------------------------------------------------------------- inbox

INBOX_PAGE_SIZE = 25


def inbox_view(model_admin, request: HttpRequest) -> HttpResponse:
    """The user's notifications inside the back office: newest first, unread marked; 未读 /
    全部 switch. Opening one marks it read and shows its order's page."""
    show = "all" if request.GET.get("show") == "all" else "unread"
    notes = notifications_for(request.user)
    if show == "unread":
        notes = notes.filter(read_at__isnull=True)
    page = Paginator(notes, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    context = _admin_context(model_admin, request, None, _("通知"))
    context.update({"page_obj": page, "show": show, "unread": unread_count(request.user)})
    return TemplateResponse(request, "backoffice/inbox.html", context)


def inbox_open_view(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    """POST: mark one notification read and open its order (if the user may see it)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    note = notifications_for(request.user).filter(pk=pk).first()
    if note is None:
        raise Http404
    notification_mark_read(user=request.user, ids=[note.pk])
    if note.ticket_id and tickets_visible_to(request.user).filter(pk=note.ticket_id).exists():
        return redirect("admin:workorders_ticket_change", note.ticket_id)
    if note.ticket_id:
        messages.info(request, _("您已看不到这张工单（可能已转派到其他部门）。"))
    return redirect("admin:workorders_ticket_inbox")


def inbox_read_view(model_admin, request: HttpRequest) -> HttpResponse:
    """POST: mark the chosen notifications read (`id`), or all of them (`all`)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if "all" in request.POST:
        n = notification_mark_read(user=request.user)
    else:
        ids = [int(i) for i in request.POST.getlist("id") if i.isascii() and i.isdigit()][:100]
        n = notification_mark_read(user=request.user, ids=ids) if ids else 0
    messages.success(request, _("已标为已读 %(n)d 条。") % {"n": n})
    return redirect(reverse("admin:workorders_ticket_inbox") + _keep_show(request))


def _keep_show(request: HttpRequest) -> str:
    return "?show=all" if request.POST.get("show") == "all" else ""


# --------------------------------------------------------------------------- workload


def workload_view(model_admin, request: HttpRequest) -> HttpResponse:
    """处理人工作量: open orders on each handler's desk in a department and how many are past the
    promise, for leads (their department) and dispatchers/supervisors (any). A fixed number of
    queries, whatever the number of handlers or orders."""
    user = request.user
    if not may_view_workload(user):
        raise PermissionDenied
    departments = Department.objects.filter(is_active=True).order_by("path")
    if not sees_all_tickets(user):
        if user.department_id is None:
            raise PermissionDenied
        departments = departments.filter(path__startswith=user.department.path)
    departments = list(departments)
    chosen = request.GET.get("department", "")
    department = next((d for d in departments if str(d.pk) == chosen), None)
    if department is None:
        own = user.department_id
        department = next((d for d in departments if d.pk == own), None) or (
            departments[0] if departments else None
        )
    rows, rule = [], None
    if department is not None:
        rows = handler_workload(department=department)
        rule = AutoAssignRule.objects.filter(department=department).first()
        for row in rows:
            row["url"] = changelist_url(handler=row["user"].pk)
    context = _admin_context(model_admin, request, None, _("处理人工作量"))
    context.update(
        {
            "departments": departments,
            "department": department,
            "rows": rows,
            "total_open": sum(r["open"] for r in rows),
            "total_overdue": sum(r["overdue"] for r in rows),
            "auto_assign": bool(rule and rule.enabled),
        }
    )
    return TemplateResponse(request, "backoffice/workload.html", context)
