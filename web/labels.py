"""Display names for the audit rows' transition codes."""

from django.utils.translation import gettext_lazy as _

TRANSITION_LABELS = {
    "report": _("吹哨"),
    "dispatch": _("派单"),
    "claim": _("签收报到"),
    "request_return": _("申请退单"),
    "rule_return": _("退单裁定"),
    "redispatch": _("转派"),
    "suspend": _("挂起"),
    "resume": _("解挂"),
    "reply": _("回单"),
    "reject_reply": _("驳回回单"),
    "close": _("回访办结"),
    "redo": _("重办"),
    "cancel": _("作废"),
    "assign": _("指派处理人"),
    "change_urgency": _("调整紧急程度"),
    "cohandle": _("协办"),
    "extend": _("延期"),
    "propose_redo": _("申请重办"),
}
