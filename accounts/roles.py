"""The six roles of DESIGN.md §1. Each is a Django group of the same code, created by a
migration with its permissions, so a role's rights are data anyone can read in the admin."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Role(models.TextChoices):
    FRONTLINE = "frontline", _("一线人员")
    DISPATCHER = "dispatcher", _("调度/回访")
    LEAD = "lead", _("部门负责人")
    HANDLER = "handler", _("处理人")
    SUPERVISOR = "supervisor", pgettext_lazy("role", "督办")
    AUDITOR = "auditor", _("审计")
    # A channel system's service account (workorders.ChannelAccount names its channel).
    CHANNEL = "channel", _("渠道系统")


# Permission codenames (workorders app) granted to each role's group.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONTLINE: [
        "report_ticket",
        "chase_ticket",
        "comment_ticket",
        "visit_on_spot",
    ],
    Role.DISPATCHER: [
        "report_ticket",
        "view_all_tickets",
        "view_full_phone",
        "dispatch_ticket",
        "rule_return",
        "review_reply",
        "visit_ticket",
        "propose_redo",
        "cancel_ticket",
        "change_urgency",
        "chase_ticket",
        "comment_ticket",
        "view_reports",
        "view_ticket",
        "lookup_customer",
        "mark_regulator",
    ],
    Role.LEAD: [
        "view_full_phone",
        "claim_ticket",
        "assign_ticket",
        "request_return",
        "request_cohandling",
        "approve_suspension",
        "approve_extension",
        "request_suspension",
        "request_extension",
        "reply_ticket",
        "resume_ticket",
        "comment_ticket",
        "view_reports",
        "export_tickets",
        "view_ticket",
        # Their department's reply templates, handler skills and auto-assign rule.
        *(
            f"{action}_{model}"
            for model in ("replytemplate", "handlerskill", "autoassignrule")
            for action in ("add", "change", "delete", "view")
        ),
    ],
    Role.HANDLER: [
        "view_full_phone",
        "claim_ticket",
        "reply_ticket",
        "request_cohandling",
        "request_suspension",
        "request_extension",
        "resume_ticket",
        "comment_ticket",
        "view_ticket",
    ],
    Role.SUPERVISOR: [
        "view_all_tickets",
        "approve_extension",
        "approve_suspension",
        "supervise_ticket",
        "confirm_redo",
        "chase_ticket",
        "comment_ticket",
        "view_reports",
        "export_tickets",
        "view_ticket",
        "lookup_customer",
        "mark_regulator",
        "signoff_regulator",
    ],
    Role.AUDITOR: [
        "view_all_tickets",
        "view_reports",
        "export_tickets",
        "view_ticket",
    ],
    # Files orders for its own channel and reads those; the hotline's account also looks up
    # the caller (checked in the service: only a hotline channel account).
    Role.CHANNEL: [
        "intake_ticket",
        "lookup_customer",
        "view_ticket",
    ],
}

# Roles that work in the back office (the Django admin).
STAFF_ROLES = {Role.DISPATCHER, Role.LEAD, Role.HANDLER, Role.SUPERVISOR, Role.AUDITOR}
