"""Every write use case of the workflow, one module per stage (intake, dispatch, handling,
closing, records). Each service checks the actor's right (`workorders.permissions`), runs the FSM
transition, saves, writes the audit row and moves the SLA clocks, all in one database
transaction, and publishes what happened (`workorders.events`). Interfaces call these and
nothing else; import them from here."""

from .attachments import (
    ALLOWED_IMAGE_TYPES,
    attachment_strip_metadata,
    validate_attachment,
)
from .closing import (
    ticket_cancel,
    ticket_close,
    ticket_decline_redo,
    ticket_propose_redo,
    ticket_redo,
    ticket_visit,
)
from .dispatch import (
    ticket_assign,
    ticket_claim,
    ticket_dispatch,
    ticket_redispatch,
    ticket_request_cohandling,
    ticket_request_return,
    ticket_rule_return,
)
from .handling import (
    ticket_approve_suspension,
    ticket_decide_extension,
    ticket_refuse_suspension,
    ticket_reject_reply,
    ticket_reply,
    ticket_request_extension,
    ticket_request_suspension,
    ticket_resume,
    ticket_suspend,
)
from .intake import (
    INTAKE_FIELDS,
    REPEAT_WINDOW,
    REPORT_FIELDS,
    category_by_ref,
    find_repeat_of,
    idempotency_lookup,
    ticket_intake,
    ticket_next_number,
    ticket_report,
)
from .records import (
    CHASE_INTERVAL,
    ticket_add_description,
    ticket_attach,
    ticket_change_urgency,
    ticket_chase,
    ticket_comment,
    ticket_supervise,
    tickets_supervise_by_system,
)
from .regulator import (
    regulator_close_check,
    ticket_mark_regulator,
    ticket_regulator_signoff,
)

__all__ = [
    "ALLOWED_IMAGE_TYPES",
    "CHASE_INTERVAL",
    "INTAKE_FIELDS",
    "REPEAT_WINDOW",
    "REPORT_FIELDS",
    "attachment_strip_metadata",
    "category_by_ref",
    "find_repeat_of",
    "idempotency_lookup",
    "regulator_close_check",
    "ticket_add_description",
    "ticket_approve_suspension",
    "ticket_assign",
    "ticket_attach",
    "ticket_cancel",
    "ticket_change_urgency",
    "ticket_chase",
    "ticket_claim",
    "ticket_close",
    "ticket_comment",
    "ticket_decide_extension",
    "ticket_decline_redo",
    "ticket_dispatch",
    "ticket_intake",
    "ticket_mark_regulator",
    "ticket_next_number",
    "ticket_propose_redo",
    "ticket_redispatch",
    "ticket_redo",
    "ticket_refuse_suspension",
    "ticket_regulator_signoff",
    "ticket_reject_reply",
    "ticket_reply",
    "ticket_report",
    "ticket_request_cohandling",
    "ticket_request_extension",
    "ticket_request_return",
    "ticket_request_suspension",
    "ticket_resume",
    "ticket_rule_return",
    "ticket_supervise",
    "ticket_suspend",
    "ticket_visit",
    "tickets_supervise_by_system",
    "validate_attachment",
]
