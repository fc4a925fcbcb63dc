"""The handlers' and leads' phone pages: the queue (mine / my department), the actions on the
order page (claim, reply with photos, ask to suspend or extend, co-handling, assign) and the
lead's approvals. Each view parses a form, calls the same domain service as the back office
and the API, and redirects (POST-redirect-GET); a refusal shows the page again with the
service's message next to the field and everything typed (photos kept as on the report form)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Department, User
from accounts.roles import Role
from sla.selectors import promise_remaining
from workorders import services
from workorders.errors import DomainError
from workorders.models import ExtensionRequest, State, SuspensionRequest
from workorders.permissions import may
from workorders.selectors import tickets_visible_to

from . import staff, uploads, views
from .forms import add_domain_errors
from .staff_forms import (
    AssignForm,
    ClaimForm,
    CohandlingForm,
    DecisionForm,
    ExtensionRequestForm,
    ReplyForm,
    ResumeForm,
    ReturnForm,
    SuspensionRequestForm,
)

PAGE_SIZE = 20
TABS = ("mine", "department")


def _forbidden(request):
    return render(request, "web/forbidden.html", status=403)


# --------------------------------------------------------------------------- queue


@login_required
def queue(request):
    """待办: "mine" (assigned to me) and "my department" (nobody assigned yet), open work
    only, least time left first."""
    user = request.user
    if not staff.uses_staff_pages(user):
        return _forbidden(request)
    tab = request.GET.get("tab", "mine")
    if tab not in TABS:
        tab = "mine"
    now = timezone.now()
    mine = staff.queue_mine(user, now=now)
    department = staff.queue_department(user, now=now)
    qs = mine if tab == "mine" else department
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for t in page_obj:
        t.sla_left, t.sla_working = promise_remaining(t)
        t.may_claim = t.state == State.DISPATCHED and may(user, "claim", t)
    return render(
        request,
        "web/staff/queue.html",
        {
            "nav": "queue",
            "tab": tab,
            "page_obj": page_obj,
            "mine_count": mine.count() if tab != "mine" else page_obj.paginator.count,
            "department_count": (
                department.count() if tab != "department" else page_obj.paginator.count
            ),
            "claim_form": ClaimForm(),
            "now": now,
        },
    )


# --------------------------------------------------------------------------- order actions


def _render_order(request, ticket, form_name, form, status):
    ticket = views._ticket(request, ticket.number)
    if "version" in form.fields:
        # Shown again with the order as it is now; what is sent next is judged against that.
        form.data = form.data.copy()
        form.data["version"] = ticket.version
    context = views._order_context(request, ticket, **{form_name: form})
    if form_name not in context:
        # The form is not on the page for this user (any more): say why at the top.
        context["action_errors"] = [*form.non_field_errors()] + [
            e for name, errs in form.errors.items() if name != "__all__" for e in errs
        ]
    return render(request, "web/order.html", context, status=status)


def _act(request, number, form, form_name, call, success, *, aliases=None):
    ticket = views._ticket(request, number)
    if not form.is_valid():
        return _render_order(request, ticket, form_name, form, 400)
    try:
        call(ticket, form.cleaned_data)
    except DomainError as exc:
        add_domain_errors(form, exc, aliases=aliases or {})
        return _render_order(request, ticket, form_name, form, exc.http_status)
    messages.success(request, success)
    return redirect("web:order", number=ticket.number)


@login_required
@require_POST
def order_claim(request, number):
    form = ClaimForm(request.POST)

    def call(ticket, d):
        services.ticket_claim(ticket=ticket, by=request.user, expected_version=d["version"])

    response = _act(request, number, form, "claim_form", call, _("已签收，工单由您处理。"))
    if response.status_code != 302 and request.POST.get("from") == "queue":
        # Claimed from the list: back to the list with the reason (the order may be gone).
        messages.error(request, " ".join(_errors(form)))
        return redirect(_queue_url("department"))
    return response


@login_required
@require_POST
def order_resume(request, number):
    form = ResumeForm(request.POST)

    def call(ticket, d):
        services.ticket_resume(ticket=ticket, by=request.user, expected_version=d["version"])

    return _act(request, number, form, "resume_form", call, _("已解除挂起，继续处理。"))


@login_required
@require_POST
def order_request_return(request, number):
    form = ReturnForm(request.POST)

    def call(ticket, d):
        services.ticket_request_return(
            ticket=ticket, by=request.user, reason=d["reason"], expected_version=d["version"]
        )

    return _act(request, number, form, "return_form", call, _("已申请退单，等待调度裁定。"))


def _errors(form) -> list[str]:
    return [str(e) for errs in form.errors.values() for e in errs]


def _queue_url(tab: str) -> str:
    return f"{reverse('web:staff_queue')}?tab={tab}"


@login_required
@require_POST
def order_reply(request, number):
    """回单 with the cause, the words for the customer and optional site photos. A refused
    reply keeps the text and the photos (as the report form does) for the next try."""
    user = request.user
    key = request.POST.get("form_key", "")
    form = ReplyForm(request.POST, request.FILES, kept=uploads.kept(user, key))
    ticket = views._ticket(request, number)
    if form.is_valid():
        d = form.cleaned_data
        key = d["form_key"]
        drop = set(d.get("drop_kept") or [])
        photos = d.get("photos") or []
        kept_files = uploads.open_kept(user, key, drop=drop) if key else []
        try:
            files = [*kept_files, *photos]
            for f in files:
                services.validate_attachment(f)  # before the reply: a bad photo stops it
            with transaction.atomic():
                services.ticket_reply(
                    ticket=ticket,
                    by=user,
                    result=d["result"],
                    cause=d["cause"],
                    resolved=d["resolved"],
                    public_reply=d["public_reply"],
                    expected_version=d["version"],
                )
                if files:
                    services.ticket_attach(ticket=ticket, by=user, files=files)
        except DomainError as exc:
            add_domain_errors(form, exc, aliases={"attachments": "photos"})
            status = exc.http_status
        else:
            if key:
                uploads.discard(user, key)
            messages.success(request, _("已回单，等待回访。"))
            return redirect("web:order", number=ticket.number)
        finally:
            for f in kept_files:
                f.close()
        if key:
            refused = uploads.keep(user, key, photos, drop=drop)
            if refused:
                form.add_error(
                    "photos",
                    _("暂存照片已达上限，以下照片未保留，提交时请重新选择：%(names)s")
                    % {"names": "、".join(refused)},
                )
            form.kept = uploads.kept(user, key)
            form.fields["drop_kept"].choices = [(k["id"], k["name"]) for k in form.kept]
    else:
        status = 400
    return _render_order(request, ticket, "reply_form", form, status)


@login_required
@require_POST
def order_request_suspension(request, number):
    form = SuspensionRequestForm(request.POST)

    def call(ticket, d):
        services.ticket_request_suspension(
            ticket=ticket,
            by=request.user,
            reason=d["reason"],
            until=d["until"],
            note=d["note"],
            expected_version=d["version"],
        )

    return _act(
        request, number, form, "suspension_form", call, _("已提交挂起申请，等待负责人审批。")
    )


@login_required
@require_POST
def order_request_extension(request, number):
    form = ExtensionRequestForm(request.POST)

    def call(ticket, d):
        services.ticket_request_extension(
            ticket=ticket,
            by=request.user,
            hours=d["hours"],
            reason=d["reason"],
            expected_version=d["version"],
        )

    return _act(request, number, form, "extension_form", call, _("已提交延期申请，等待审批。"))


@login_required
@require_POST
def order_cohandling(request, number):
    ticket = views._ticket(request, number)
    form = CohandlingForm(request.POST, departments=staff.cohandling_departments(ticket))

    def call(ticket, d):
        department = Department.objects.filter(pk=d["department"]).first()
        services.ticket_request_cohandling(
            ticket=ticket,
            by=request.user,
            departments=[department] if department else [],
            note=d["note"],
            expected_version=d["version"],
        )

    return _act(
        request,
        number,
        form,
        "cohandling_form",
        call,
        _("已请求协办。"),
        aliases={"departments": "department"},
    )


@login_required
@require_POST
def order_assign(request, number):
    ticket = views._ticket(request, number)
    from_approvals = request.POST.get("next") == "approvals"
    department = request.user.department if from_approvals else ticket.department
    form = AssignForm(request.POST, handlers=staff.handler_choices(department))

    def call(ticket, d):
        handler = User.objects.filter(pk=d["handler"]).first() if d["handler"] else None
        services.ticket_assign(
            ticket=ticket, by=request.user, handler=handler, expected_version=d["version"]
        )

    if from_approvals:
        return _assign_from_approvals(request, ticket, form, call)
    return _act(request, number, form, "assign_form", call, _("已指派处理人。"))


# --------------------------------------------------------------------------- the lead's page


def _is_lead(user) -> bool:
    return Role.LEAD in user.roles


@login_required
def approvals(request, *, bound=None, status=200):
    """待审批 and 待指派 of the lead's department: pending suspension and extension requests
    (approve, or refuse with a reason) and orders with nobody assigned (assign a handler)."""
    user = request.user
    if not _is_lead(user):
        return _forbidden(request)
    bound = bound or {}
    now = timezone.now()
    rows = staff.pending_requests(user)
    for r in rows:
        r.may_decide = may(
            user, "approve_extension" if r.kind == "extension" else "suspend", r.ticket
        )
        r.form = bound.get((r.kind, r.pk)) or DecisionForm(
            initial={"version": r.ticket.version}, auto_id=f"id_{r.kind}{r.pk}_%s"
        )
    handlers = staff.handler_choices(user.department)
    unassigned = list(staff.queue_department(user, now=now)[:PAGE_SIZE])
    for t in unassigned:
        t.sla_left, t.sla_working = promise_remaining(t)
        t.assign_form = bound.get(("assign", t.pk)) or AssignForm(
            initial={"version": t.version, "next": "approvals"},
            handlers=handlers,
            auto_id=f"id_assign{t.pk}_%s",
        )
    shown = {(r.kind, r.pk) for r in rows} | {("assign", t.pk) for t in unassigned}
    for key, form in bound.items():
        if key not in shown:
            # Decided or assigned meanwhile: the row is gone, its message must not be.
            for error in _errors(form):
                messages.error(request, error)
    return render(
        request,
        "web/staff/approvals.html",
        {"nav": "approvals", "requests": rows, "unassigned": unassigned, "now": now},
        status=status,
    )


def _assign_from_approvals(request, ticket, form, call):
    if not _is_lead(request.user):
        return _forbidden(request)
    if form.is_valid():
        try:
            call(ticket, form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc)
            status = exc.http_status
        else:
            name = form.fields["handler"].choices
            label = dict(name).get(form.cleaned_data["handler"], "")
            messages.success(
                request,
                _("%(number)s 已指派给 %(name)s。")
                % {"number": ticket.number, "name": str(label).split(" · ")[0]},
            )
            return redirect("web:staff_approvals")
    else:
        status = 400
    form.auto_id = f"id_assign{ticket.pk}_%s"
    return approvals(request, bound={("assign", ticket.pk): form}, status=status)


MODELS = {"suspension": SuspensionRequest, "extension": ExtensionRequest}


@login_required
@require_POST
def decide(request, kind, pk):
    """Approve or refuse (with a reason) a pending request, through the same services as the
    back office; the page comes back with the outcome."""
    user = request.user
    if not _is_lead(user):
        return _forbidden(request)
    model = MODELS.get(kind)
    if model is None:
        raise Http404
    req = (
        model.objects.filter(pk=pk)
        .filter(ticket__in=tickets_visible_to(user).values("pk"))
        .select_related("ticket")
        .first()
    )
    if req is None:
        raise Http404
    form = DecisionForm(request.POST, auto_id=f"id_{kind}{pk}_%s")
    status = 400
    if form.is_valid():
        d = form.cleaned_data
        approve = d["decision"] == "approve"
        try:
            if kind == "extension":
                services.ticket_decide_extension(
                    request=req,
                    by=user,
                    approve=approve,
                    note=d["note"],
                    expected_version=d["version"],
                )
            elif approve:
                services.ticket_approve_suspension(
                    request=req, by=user, expected_version=d["version"]
                )
            else:
                services.ticket_refuse_suspension(
                    request=req, by=user, note=d["note"], expected_version=d["version"]
                )
        except DomainError as exc:
            add_domain_errors(form, exc)
            status = exc.http_status
        else:
            done = {
                ("extension", True): _("已批准延期申请。"),
                ("extension", False): _("已驳回延期申请。"),
                ("suspension", True): _("已批准挂起申请，工单已挂起。"),
                ("suspension", False): _("已驳回挂起申请。"),
            }[(kind, approve)]
            text = _("%(number)s：%(message)s") % {"number": req.ticket.number, "message": done}
            messages.success(request, text)
            return redirect("web:staff_approvals")
    return approvals(request, bound={(kind, req.pk): form}, status=status)
