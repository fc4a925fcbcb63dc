"""Display names for the audit rows' transition codes: events in the past tense ("Dispatched"),
under the message context "event" so they never collide with the action verbs ("Dispatch")."""

from django.utils.translation import pgettext_lazy

TRANSITION_LABELS = {
    "report": pgettext_lazy("event", "吹哨"),
    "dispatch": pgettext_lazy("event", "派单"),
    "claim": pgettext_lazy("event", "签收报到"),
    "request_return": pgettext_lazy("event", "申请退单"),
    "rule_return": pgettext_lazy("event", "退单裁定"),
    "redispatch": pgettext_lazy("event", "转派"),
    "suspend": pgettext_lazy("event", "挂起"),
    "resume": pgettext_lazy("event", "解挂"),
    "reply": pgettext_lazy("event", "回单"),
    "reject_reply": pgettext_lazy("event", "驳回回单"),
    "close": pgettext_lazy("event", "回访办结"),
    "redo": pgettext_lazy("event", "重办"),
    "cancel": pgettext_lazy("event", "作废"),
    "assign": pgettext_lazy("event", "指派处理人"),
    "change_urgency": pgettext_lazy("event", "调整紧急程度"),
    "cohandle": pgettext_lazy("event", "协办"),
    "extend": pgettext_lazy("event", "延期"),
    "propose_redo": pgettext_lazy("event", "申请重办"),
}
