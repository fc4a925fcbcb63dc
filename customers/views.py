"""The status page `/s/<token>/` (no login): the order's progress for its customer, their
notes and the survey. Thin: find the link, call a service, render.

Every answer of these URLs is `no-store`, `noindex` and limited per client address; an
unknown token and an expired one get the same 404 page after the same work."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST, require_safe

from sla.display import duration_text
from workorders.errors import DomainError
from workorders.models import (
    RequestStatus,
    State,
    SuspensionReason,
)
from workorders.permissions import mask_phone

from . import services
from .forms import NoteForm, SurveyForm
from .ratelimit import client_address, over_limit


def _public(view):
    """Rate limit, link lookup, and the headers of every answer of the status pages."""

    @wraps(view)
    def wrapped(request, token: str):
        if over_limit(request):
            response = render(request, "customers/rate_limited.html", status=429)
            response["Retry-After"] = "60"
        else:
            link = services.status_link_lookup(token)
            if link is None:
                response = render(request, "customers/not_found.html", status=404)
            else:
                response = view(request, token, link)
        add_never_cache_headers(response)  # includes no-store: shared phones, proxies
        response["X-Robots-Tag"] = "noindex, nofollow"
        # The token is in the address: never send it to another site. (Not no-referrer:
        # Chromium then sends "Origin: null" with the page's own forms, which CSRF refuses.)
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapped


STEPS = (
    ("reported_at", pgettext_lazy("customer step", "受理")),
    ("dispatched_at", pgettext_lazy("customer step", "派单")),
    ("claimed_at", pgettext_lazy("customer step", "处理")),
    ("replied_at", pgettext_lazy("customer step", "答复")),
    ("closed_at", pgettext_lazy("customer step", "办结")),
)
# What each state means to the customer (staff words like 签收 or 退单 stay inside).
STATE_TEXT = {
    State.REPORTED: _l("已受理，等待派单"),
    State.DISPATCHED: _l("已派至处理部门"),
    State.RETURN_REQUESTED: _l("正在重新派单"),
    State.ACCEPTED: _l("正在处理"),
    State.SUSPENDED: _l("暂停处理，等待您方条件具备"),
    State.REPLIED: _l("已答复，请您评价"),
    State.CLOSED: _l("已办结"),
    State.CANCELLED: _l("已撤销"),
}
# How far along each state is: the number of steps reached.
REACHED = {
    State.REPORTED: 1,
    State.DISPATCHED: 2,
    State.RETURN_REQUESTED: 2,
    State.ACCEPTED: 3,
    State.SUSPENDED: 3,
    State.REPLIED: 4,
    State.CLOSED: 5,
    State.CANCELLED: 1,
}


def _steps(ticket) -> list[dict]:
    """The five steps with the time each was reached; the last one reached is current."""
    reached = REACHED[ticket.state]
    out = []
    for i, (field, label) in enumerate(STEPS, start=1):
        if i < reached or reached == len(STEPS):
            state = "done"
        elif i == reached:
            state = "current"
        else:
            state = "todo"
        at = getattr(ticket, field) if i <= reached else None
        out.append({"label": label, "at": at, "state": state})
    return out


def _promise(ticket, now) -> dict | None:
    clock = ticket.promise_clock
    if clock is None or clock.voided or ticket.state == State.CANCELLED:
        return None
    out = {"due": clock.due_at, "running": clock.is_running, "paused": clock.is_paused}
    if clock.is_running and not clock.is_paused:
        left = clock.remaining_seconds(now)
        out["left"] = left
        # The same words for the script that keeps the countdown current.
        out["formats"] = {
            "left": _("剩余 %(t)s"),
            "late": _("已超时 %(t)s"),
            "dh": _("%(d)d天%(h)d小时"),
            "hm": _("%(h)d小时%(m)d分钟"),
            "m": _("%(m)d分钟"),
        }
        out["text"] = (
            _("剩余 %(t)s") % {"t": duration_text(left)}
            if left >= 0
            else _("已超时 %(t)s") % {"t": duration_text(left)}
        )
    elif not clock.is_running:
        out["met"] = clock.outcome == "met"
    return out


def _context(request, token, link, *, now, note_form=None, survey_form=None) -> dict:
    ticket = link.ticket
    survey = services.current_survey(ticket)
    suspension = None
    if ticket.state == State.SUSPENDED:
        reason = (
            ticket.suspensions.filter(status=RequestStatus.APPROVED)
            .order_by("-decided_at", "-pk")
            .values_list("reason", flat=True)
            .first()
        )
        suspension = {
            "reason": SuspensionReason(reason).label if reason in SuspensionReason.values else "",
            "until": ticket.suspended_until,
        }
    next_note = services.next_note_at(ticket)
    return {
        "token": token,
        "status_path": reverse("customers:status", args=[token]),
        "ticket": ticket,
        "phone": mask_phone(ticket.customer_phone),
        "state_text": STATE_TEXT[ticket.state],
        "steps": _steps(ticket),
        "promise": _promise(ticket, now),
        "suspension": suspension,
        "shows_reply": ticket.state in (State.REPLIED, State.CLOSED),
        "survey": survey,
        "may_answer": survey is not None and not survey.answered and ticket.state == State.REPLIED,
        "survey_form": survey_form or SurveyForm(),
        "may_add_note": ticket.is_open,
        "note_wait": next_note if next_note and next_note > now else None,
        "note_form": note_form or NoteForm(),
        "notes": list(ticket.customer_notes.all()),
        "now": now,
    }


@require_safe
@_public
def status_page(request, token, link):
    now = timezone.now()
    return render(request, "customers/status.html", _context(request, token, link, now=now))


def _post(request, token, link, form_class, form_name, call, success):
    now = timezone.now()
    form = form_class(request.POST)
    notice = None
    if form.is_valid():
        try:
            call(form.cleaned_data, now)
        except DomainError as exc:
            for field, msgs in exc.fields.items():
                for m in msgs:
                    form.add_error(field if field in form.fields else None, str(m))
            if not exc.fields:
                form.add_error(None, str(exc.message))
                notice = str(exc.message)  # at the top: the form may no longer be shown
            status = exc.http_status
        else:
            messages.success(request, success)
            return redirect(reverse("customers:status", args=[token]) + "#" + form_name)
    else:
        status = 400
    link = services.status_link_lookup(token)  # the order as it is now
    context = _context(request, token, link, now=now, **{f"{form_name}_form": form})
    context["notice"] = notice
    return render(request, "customers/status.html", context, status=status)


@require_POST
@_public
def add_note(request, token, link):
    return _post(
        request,
        token,
        link,
        NoteForm,
        "note",
        lambda d, now: services.customer_note_add(
            link=link,
            text=d["text"],
            source=services.source_tag(client_address(request)),
            now=now,
        ),
        _("已收到您补充的信息，处理人员会看到。"),
    )


@require_POST
@_public
def answer_survey(request, token, link):
    return _post(
        request,
        token,
        link,
        SurveyForm,
        "survey",
        lambda d, now: services.survey_answer(
            link=link,
            resolved=d["resolved"],
            satisfaction=d["satisfaction"],
            comment=d["comment"],
            now=now,
        ),
        _("感谢您的评价！"),
    )
