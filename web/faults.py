"""The phone report form and mass faults (群障): a hint when the category and area match an
open fault, and linking the new order to it. The rule (which fault matches, what linking
means, the reporter's "not related") is `faults`'; this parses and renders."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from faults.selectors import fault_hint_text, fault_matching
from faults.services import fault_link_report
from workorders.errors import DomainError
from workorders.models import Category
from workorders.permissions import may


def _coordinate(raw) -> Decimal | None:
    try:
        value = Decimal(str(raw)) if raw not in (None, "") else None
    except InvalidOperation:
        return None
    return value if value is not None and value.is_finite() and abs(value) <= 180 else None


def hint_for(*, category, region: str, lat, lng, shown: str = "", related=True) -> dict | None:
    """What the form shows about an open fault in this category and area (None: nothing)."""
    fault = fault_matching(category=category, region=region, lat=lat, lng=lng)
    if fault is None:
        return None
    # The reporter's tick stays as they left it while the hint names the same fault.
    return {
        "number": fault.number,
        "message": fault_hint_text(fault),
        "related": related if shown == fault.number else True,
    }


def form_hint(form) -> dict | None:
    """The hint on a re-rendered (refused) form, from what was typed."""
    data = getattr(form, "cleaned_data", {}) or {}
    category = data.get("category")
    if category is None:
        return None
    return hint_for(
        category=category,
        region=(data.get("customer_region") or "").strip(),
        lat=data.get("latitude"),
        lng=data.get("longitude"),
        shown=data.get("fault_shown") or "",
        related=bool(data.get("fault_related")),
    )


def link_reported(request, ticket, form) -> None:
    """After a report: join the matching open fault unless the reporter (who saw the hint)
    said it is not related; say so on the next page."""
    data = form.cleaned_data
    shown = (data.get("fault_shown") or "").strip()
    try:
        fault = fault_link_report(
            ticket=ticket, by=request.user, related=bool(data.get("fault_related")), shown=shown
        )
    except DomainError:
        # The order is filed either way; a fault that changed under us (or a link that lost a
        # race) leaves it to the next detection run.
        return
    if fault is not None:
        messages.info(
            request, fault_hint_text(fault) + " " + _("本单已关联该群障，将随群障一并处理。")
        )


@login_required
@require_GET
def fault_check(request):
    """{"fault": bool, "number", "message"} for the category and area typed so far."""
    if not may(request.user, "report"):
        return JsonResponse({"fault": False}, status=403)
    raw = request.GET.get("category", "")
    category = Category.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    if category is None:
        return JsonResponse({"fault": False})
    hint = hint_for(
        category=category,
        region=(request.GET.get("region") or "").strip()[:32],
        lat=_coordinate(request.GET.get("lat")),
        lng=_coordinate(request.GET.get("lng")),
    )
    if hint is None:
        return JsonResponse({"fault": False})
    return JsonResponse({"fault": True, "number": hint["number"], "message": hint["message"]})
