"""`{% ticket_fault ticket %}`: the box that shows an order's fault on the order pages (the back
office links to the fault page when the user may see it; the phone page shows the text)."""

from django import template
from django.urls import reverse

from faults.selectors import fault_hint_text, fault_of_ticket, faults_visible_to

register = template.Library()


@register.inclusion_tag("faults/_ticket_fault.html", takes_context=True)
def ticket_fault(context, ticket, admin_link=True):
    fault = fault_of_ticket(ticket) if ticket is not None else None
    url = ""
    if fault is not None and admin_link:
        user = context["request"].user
        if faults_visible_to(user).filter(pk=fault.pk).exists():
            url = reverse("admin:faults_fault_change", args=[fault.pk])
    return {
        "fault": fault,
        "url": url,
        "text": fault_hint_text(fault) if fault is not None and fault.is_open else "",
        "admin": admin_link,
    }
