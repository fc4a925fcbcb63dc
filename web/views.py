"""The phone pages. Each view parses a form, calls a domain service or selector and renders;
rules (rights, states, phone format, photo checks, chase interval) stay in the domain and
come back as DomainError messages shown next to the fields."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import parse_etags, quote_etag, url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import LoginForm
from accounts.roles import Role
from notifications.selectors import notifications_for
from notifications.services import notification_mark_read
from sla.models import Clock
from sla.selectors import promise_remaining
from workorders import services
from workorders.errors import DomainError, IdempotencyMismatch, Invalid
from workorders.http import attachment_response
from workorders.models import Category, Satisfaction
from workorders.permissions import can_see_full_phone, mask_phone, may
from workorders.selectors import (
    allowed_transitions,
    ticket_get_visible,
    ticket_timeline,
    tickets_visible_to,
    visible_attachment,
)

from . import faults, selectors, staff, uploads
from .forms import (
    ChaseForm,
    CommentForm,
    PhotosForm,
    ReportForm,
    VerdictForm,
    add_domain_errors,
)
from .labels import TRANSITION_LABELS

PAGE_SIZE = 20


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "web:login"


@login_required
def home(request):
    """Frontline staff land on their orders; handlers in the field (no desk role) on their
    phone queue; back-office roles on the admin."""
    user = request.user
    if Role.FRONTLINE in user.roles:
        return redirect("web:my_orders")
    if staff.works_in_the_field(user):
        return redirect("web:staff_queue")
    if not user.is_staff:
        return redirect("web:my_orders")
    return redirect("admin:index")


# --------------------------------------------------------------------------- report


@login_required
def report(request):
    user = request.user
    if not may(user, "report"):
        # The page is for those who may report; the service would refuse the submit anyway.
        return render(request, "web/forbidden.html", status=403)
    now = timezone.now()
    categories = selectors.report_categories(user, now=now)
    key = request.POST.get("form_key", "")
    kept = uploads.kept(user, key) if request.method == "POST" else []
    form = ReportForm(request.POST or None, request.FILES or None, categories=categories, kept=kept)
    repeat = None
    fault_hint = None
    status = 200
    if request.method == "POST":
        valid = form.is_valid()
        # Read before the domain's messages are attached (that drops them from cleaned_data).
        key = form.cleaned_data.get("form_key") or ""
        photos = form.cleaned_data.get("photos") or []
        drop = set(form.cleaned_data.get("drop_kept") or [])
        if valid:
            response = _submit_report(request, form)
            if response is not None:
                return response
        status = 400
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
        category = form.cleaned_data.get("category")
        phone = (form.cleaned_data.get("customer_phone") or "").strip()
        if category and phone:
            repeat = _repeat_info(user, phone, category, now)
        fault_hint = faults.form_hint(form)
    return render(
        request,
        "web/report.html",
        {
            "nav": "report",
            "form": form,
            "categories": categories[:6],
            "all_categories": categories,
            "repeat": repeat,
            "fault_hint": fault_hint,
        },
        status=status,
    )


def _submit_report(request, form: ReportForm):
    """Create the order (or find the one this form's key already created) and redirect to it;
    None when the domain refused the input (its messages are then on the form)."""
    user = request.user
    key = form.cleaned_data["form_key"]
    drop = set(form.cleaned_data.get("drop_kept") or [])
    kept_files = uploads.open_kept(user, key, drop=drop)
    try:
        ticket = services.ticket_report(
            by=user,
            attachments=[*kept_files, *form.cleaned_data["photos"]],
            idempotency_key=f"web-report:{key}",
            **form.service_fields(),
        )
    except IdempotencyMismatch:
        # Back, edited, submitted again: this form already made an order; show that one.
        ticket = selectors.order_for_form_key(user, f"web-report:{key}")
        if ticket is None:
            form.add_error(None, _("表单已提交过，请刷新页面后重新填写。"))
            return None
        messages.info(request, _("这张表单已经提交过，下面是当时生成的工单。"))
        return redirect("web:order", number=ticket.number)
    except Invalid as exc:
        add_domain_errors(form, exc, aliases={"attachments": "photos"})
        return None
    except DomainError as exc:
        form.add_error(None, str(exc.message))
        return None
    finally:
        for f in kept_files:
            f.close()
    uploads.discard(user, key)
    if ticket.replayed:
        messages.info(request, _("工单已提交过，没有重复创建。"))
    else:
        messages.success(request, _("吹哨成功，工单号 %(number)s。") % {"number": ticket.number})
        faults.link_reported(request, ticket, form)
    return redirect("web:order", number=ticket.number)


def _repeat_info(user, phone: str, category: Category, now) -> dict | None:
    earlier = services.find_repeat_of(phone=phone, category=category, now=now)
    if earlier is None:
        return None
    visible = tickets_visible_to(user).filter(pk=earlier.pk).exists()
    return {
        "number": earlier.number,
        "url": reverse("web:order", args=[earlier.number]) if visible else "",
        "reported_at": earlier.reported_at,
    }


@login_required
@require_GET
def repeat_check(request):
    """{"repeat": bool, "number", "url", "message"} for the phone and category typed so far."""
    if not may(request.user, "report"):
        return JsonResponse({"repeat": False}, status=403)
    phone = (request.GET.get("phone") or "").strip().replace(" ", "")
    try:
        category = Category.objects.filter(pk=int(request.GET.get("category", ""))).first()
    except ValueError:
        category = None
    if category is None or not phone.replace("-", "").isdigit():
        return JsonResponse({"repeat": False})
    info = _repeat_info(request.user, phone, category, timezone.now())
    if info is None:
        return JsonResponse({"repeat": False})
    return JsonResponse(
        {
            "repeat": True,
            "number": info["number"],
            "url": info["url"],
            "message": _("该号码30天内已就同一问题投诉过（%(number)s），本单将标记为重复投诉。")
            % {"number": info["number"]},
        }
    )


# --------------------------------------------------------------------------- my orders


MY_ORDERS_TABS = ("open", "closed", "confirm")


@login_required
def my_orders(request):
    """The orders the user reported (all, open, closed, or 待我确认: replied and awaiting their
    verdict). With `?partial=1` only the list region, for the page's script to refresh it:
    conditional on an ETag from one fingerprint query, 304 when nothing changed."""
    status = request.GET.get("status", "")
    if status not in MY_ORDERS_TABS:
        status = ""
    partial = request.GET.get("partial") == "1"
    page_number = request.GET.get("page") or "1"
    # Only the script's refresh pays for the fingerprint (the page's first poll fetches once).
    etag = _my_orders_etag(request, status, page_number) if partial else ""
    if partial and etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    now = timezone.now()
    page = Paginator(selectors.my_reported(request.user, status=status, now=now), PAGE_SIZE)
    page_obj = page.get_page(page_number)
    for t in page_obj:
        t.sla_left, t.sla_working = promise_remaining(t)
    live_query = urlencode({**({"status": status} if status else {}), "page": page_number})
    context = {
        "nav": "orders",
        "page_obj": page_obj,
        "status": status,
        "now": now,
        "live_url": f"{reverse('web:my_orders')}?{live_query}&partial=1",
        "confirm_url": f"{reverse('web:my_orders')}?status=confirm",
        "satisfaction_choices": Satisfaction.choices,
    }
    if partial:
        response = render(request, "web/_my_orders_list.html", context)
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response
    return render(request, "web/my_orders.html", context)


def _my_orders_etag(request, status: str, page: str) -> str:
    fingerprint = selectors.my_reported_fingerprint(request.user, status=status)
    raw = repr((request.user.pk, status, page, get_language(), fingerprint))
    return quote_etag(hashlib.sha256(raw.encode()).hexdigest()[:32])


# --------------------------------------------------------------------------- order page


def _order_context(request, ticket, **forms) -> dict:
    user = request.user
    now = timezone.now()
    clocks = list(
        Clock.objects.filter(ticket=ticket, voided=False)
        .select_related("department")
        .order_by("started_at", "id")
    )
    for c in clocks:
        c.web_status = c.status(now)
        c.web_remaining = c.remaining_seconds(now)
    transitions = allowed_transitions(user, ticket)
    timeline = ticket_timeline(ticket, user=user)
    # At the same instant, the step (e.g. the report) reads before what came with it.
    timeline.sort(key=lambda i: (i["at"], i["type"] != "transition"))
    for item in timeline:
        if item["type"] == "transition":
            item["label"] = TRANSITION_LABELS.get(item["name"], item["name"])
    phone = ticket.customer_phone
    promise = next((c for c in clocks if c.pk == ticket.promise_clock_id), None)
    return {
        "nav": "orders",
        "ticket": ticket,
        "promise_remaining": promise.web_remaining if promise else None,
        "promise_status": promise.web_status if promise else None,
        "promise_working": promise.counts_working_time if promise else False,
        "promise_due": promise.due_at if promise else None,
        "promise_paused": promise.paused_at if promise else None,
        "promise_risk": promise.risk_at if promise else None,
        "phone": phone if can_see_full_phone(user, ticket) else mask_phone(phone),
        "clocks": clocks,
        "timeline": timeline,
        "may_comment": may(user, "comment", ticket),
        "may_chase": may(user, "chase", ticket) and ticket.is_open,
        "may_verdict": "close" in transitions and not ticket.awaits_regulator_signoff,
        "awaits_signoff": "close" in transitions and ticket.awaits_regulator_signoff,
        "comment_form": forms.get("comment_form") or CommentForm(),
        "photos_form": forms.get("photos_form") or PhotosForm(),
        "chase_form": forms.get("chase_form") or ChaseForm(),
        "verdict_form": (
            forms.get("verdict_form") or VerdictForm(initial={"version": ticket.version})
        ),
        "now": now,
        # Handlers and leads: claim, reply, requests, co-handling, assign; tap-to-call.
        **staff.order_forms(request, ticket, transitions, forms),
    }


def _ticket(request, number):
    return ticket_get_visible(request.user, number)


@login_required
def order_detail(request, number):
    ticket = _ticket(request, number)
    return render(request, "web/order.html", _order_context(request, ticket))


SHOWN_BY = {
    "comment_form": "may_comment",
    "photos_form": "may_comment",
    "chase_form": "may_chase",
    "verdict_form": "may_verdict",
}


def _order_action(request, number, form_class, form_name, call, success, *, back=None):
    """POST an action: parse, call the service, redirect back; on a domain error re-render the
    order page with the message next to the form (status from the error)."""
    ticket = _ticket(request, number)
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        try:
            call(ticket, form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc, aliases={"attachments": "photos", "outcome": None})
            ticket = _ticket(request, number)
            if "version" in form.fields:
                # The page is shown again with the order as it is now; what is sent next is
                # judged against that.
                form.data = form.data.copy()
                form.data["version"] = ticket.version
            context = _order_context(request, ticket, **{form_name: form})
            if not context[SHOWN_BY[form_name]]:
                # The form is not on the page for this user: say why at the top.
                context["action_errors"] = form.non_field_errors()
            return render(request, "web/order.html", context, status=exc.http_status)
        messages.success(request, success if isinstance(success, str) else success(ticket))
        return redirect(back or reverse("web:order", args=[ticket.number]))
    return render(
        request,
        "web/order.html",
        _order_context(request, ticket, **{form_name: form}),
        status=400,
    )


@login_required
@require_POST
def order_comment(request, number):
    return _order_action(
        request,
        number,
        CommentForm,
        "comment_form",
        lambda t, d: services.ticket_comment(ticket=t, by=request.user, body=d["body"]),
        _("已添加说明。"),
    )


@login_required
@require_POST
def order_photos(request, number):
    return _order_action(
        request,
        number,
        PhotosForm,
        "photos_form",
        lambda t, d: services.ticket_attach(ticket=t, by=request.user, files=d["photos"]),
        _("已添加照片。"),
    )


@login_required
@require_POST
def order_chase(request, number):
    return _order_action(
        request,
        number,
        ChaseForm,
        "chase_form",
        lambda t, d: services.ticket_chase(ticket=t, by=request.user, note=d["note"]),
        _("已催办，责任部门会收到提醒。"),
    )


@login_required
@require_POST
def order_verdict(request, number):
    def call(ticket, d):
        services.ticket_visit(
            ticket=ticket,
            by=request.user,
            outcome="success",
            resolved=d["resolved"],
            satisfaction=d["satisfaction"],
            note=d["note"],
            expected_version=d["version"],
        )

    def success(ticket):
        if _ticket(request, ticket.number).is_open:
            return _("已记录客户意见：问题未解决或不满意，已申请重办，待督办确认。")
        return _("已记录客户意见，工单已办结。")

    # From the 待我确认 list: back to that list once recorded.
    back = request.POST.get("next", "")
    if not back.startswith(reverse("web:my_orders")) or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        back = None
    return _order_action(request, number, VerdictForm, "verdict_form", call, success, back=back)


@login_required
@require_GET
def photo(request, pk):
    """A photo of an order, only to those who may see the order; never a static URL."""
    return attachment_response(visible_attachment(request.user, pk))


@login_required
@require_GET
def photo_thumb(request, pk):
    """The photo's small thumbnail (lists and timelines), with the same check as the photo."""
    return attachment_response(visible_attachment(request.user, pk), thumbnail=True)


# --------------------------------------------------------------------------- offline

SW_ASSETS = (
    "web/app.css",
    "web/report.js",
    "web/fault_hint.js",
    "web/offline.js",
    "web/outbox.js",
)


@require_GET
def service_worker(request):
    """The service worker script at /sw.js, so its scope covers the report page (and every
    page that registers it). It names the static files it keeps by their current (hashed)
    URLs; its version changes with them and with their contents, which makes browsers install
    the new one."""
    assets = [static(a) for a in SW_ASSETS]
    digest = hashlib.sha256("\n".join(assets).encode())
    for a in SW_ASSETS:
        path = finders.find(a)
        if path:
            with open(path, "rb") as f:
                digest.update(f.read())
    response = render(
        request,
        "web/sw.js",
        {
            "version": digest.hexdigest()[:16],
            "assets": assets,
            "report_url": reverse("web:report"),
            "outbox_url": static("web/outbox.js"),
        },
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


# --------------------------------------------------------------------------- notifications


@login_required
def notification_list(request):
    """The user's notifications; `?partial=1` the list region only, conditional like
    my_orders'."""
    page_number = request.GET.get("page") or "1"
    partial = request.GET.get("partial") == "1"
    etag = ""
    if partial:
        fingerprint = selectors.notifications_fingerprint(request.user)
        raw = repr((request.user.pk, "notes", page_number, get_language(), fingerprint))
        etag = quote_etag(hashlib.sha256(raw.encode()).hexdigest()[:32])
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = HttpResponseNotModified()
            response["ETag"] = etag
            return response
    page = Paginator(notifications_for(request.user), PAGE_SIZE)
    context = {
        "nav": "notes",
        "page_obj": page.get_page(page_number),
        "live_url": f"{reverse('web:notifications')}?{urlencode({'page': page_number})}&partial=1",
    }
    if partial:
        response = render(request, "web/_notifications_list.html", context)
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response
    return render(request, "web/notifications.html", context)


@login_required
@require_POST
def notification_open(request, pk):
    """Tapping a notification marks it read and opens its order."""
    note = notifications_for(request.user).filter(pk=pk).first()
    if note is None:
        raise Http404
    notification_mark_read(user=request.user, ids=[note.pk])
    if note.ticket_id:
        return redirect("web:order", number=note.ticket.number)
    return redirect("web:notifications")


@login_required
@require_POST
def notification_read_all(request):
    notification_mark_read(user=request.user)
    return redirect("web:notifications")
