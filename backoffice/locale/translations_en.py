"""English for the back office's Chinese msgids. `python backoffice/locale/translations_en.py`
fills backoffice/locale/en/LC_MESSAGES/django.po after `makemessages`; then compilemessages.

The English terms are shared with the other apps' catalogues (Django merges them into one per
language, so a msgid must read the same everywhere): tests/config/test_translations.py checks
it. A Chinese word with two meanings has a message context (pgettext / `context "…"`):
"action" (buttons, audit-row names: 挂起 Suspend), "plural" (headings: 图片 Photos),
"clock outcome" (作废 Voided); those are in CONTEXTS.
"""

EN = {
    "后台工作台": "Back office",
    "已超时 %(t)s": "Overdue by %(t)s",
    "%(label)s · 剩 %(t)s": "%(label)s · %(t)s left",
    "阶段": "Stage",
    "时限状态": "SLA status",
    "升级级别": "Escalation level",
    "未升级": "Not escalated",
    "1级": "Level 1",
    "2级": "Level 2",
    "3级及以上": "Level 3 and above",
    "客户标记": "Customer flags",
    "任一重点标记": "Any priority flag",
    "五星VIP": "5-star VIP",
    "老年客户": "Elderly customer",
    "声称升级": "Claims escalation",
    "重复投诉": "Repeat complaint",
    "处理人": "Handler",
    "我自己": "Me",
    "范围": "Scope",
    "本部门": "My department",
    "指派给我": "Assigned to me",
    "待审批": "Pending",
    "有待审批申请": "Has a pending request",
    "延期申请": "Extension request",
    "挂起申请": "Suspension request",
    "期间": "Period",
    "今日到期": "Due today",
    "本周办结": "Closed this week",
    "本周签收/退单": "Claimed / returned this week",
    "是": "Yes",
    "否": "No",
    "操作成功。": "Done.",
    "已派单。": "Dispatched.",
    "责任部门": "Responsible department",
    "协办部门": "Co-handling departments",
    "说明": "Note",
    "已签收（报到）。": "Claimed (reported in).",
    "原因": "Reason",
    "已申请退单，等待调度裁定。": "Return requested; awaiting the dispatcher's ruling.",
    "已裁定退单。": "Return ruled.",
    "裁定": "Ruling",
    "退单成立，改派新部门": "Uphold: send to a new department",
    "退单驳回，退回原部门": "Reject: back to the same department",
    "新责任部门": "New responsible department",
    "已转派。": "Redispatched.",
    "已挂起，承诺时限暂停计时。": "Suspended; the promise clock is paused.",
    "客户方原因": "Customer-side reason",
    "挂起至": "Suspended until",
    "已解挂，承诺时限恢复计时。": "Resumed; the promise clock runs again.",
    "已回单，等待回访。": "Replied; awaiting the callback.",
    "处理结果": "Result",
    "原因分类": "Cause",
    "自评已解决": "Resolved (handler's view)",
    "已驳回回单，工单退回处理中。": "Reply rejected; the order is back in handling.",
    "已回访办结。": "Called back and closed.",
    "回访结果": "Callback outcome",
    "客户确认已解决": "Customer confirms resolved",
    "满意度": "Satisfaction",
    "回访备注": "Callback note",
    "客户不满意或未解决，已提交重办申请，等待督办确认。": (
        "The customer is unsatisfied or the problem is unresolved: "
        "a redo was proposed for the supervisor to confirm."
    ),
    "已确认重办，工单退回处理中。": "Redo confirmed; the order is back in handling.",
    "已作废。": "Cancelled.",
    "重复于（工单号）": "Duplicate of (order number)",
    "找不到该工单号。": "No such order number.",
    "已指派处理人。": "Handler assigned.",
    "审批意见": "Decision note",
    "部门": "Department",
    "个人信息": "Personal info",
    "部门与角色": "Department and roles",
    "权限": "Permissions",
    "重要日期": "Important dates",
    "姓名": "Name",
    "路由与时限": "Routing and urgency",
    "工作台": "Workbench",
    "部门看板": "Department dashboard",
    "我的工单队列": "My order queue",
    "您当前不能对此工单执行流转操作。": "You cannot move this order on right now.",
    "常用筛选": "Saved filters",
    "常用筛选：": "Saved filters:",
    "约 %(n)s 张工单": "about %(n)s orders",
    "%(n)s+ 张工单": "%(n)s+ orders",
    "%(n)s 张工单": "%(n)s orders",
    "显示全部": "Show all",
    "首页": "Home",
    "请更正下面的错误。": "Please correct the errors below.",
    "执行": "Apply",
    "取消": "Cancel",
    "范围：%(d)s及下属部门": "Scope: %(d)s and its sub-departments",
    "范围：全部部门": "Scope: all departments",
    "更新于 %(t)s": "Updated %(t)s",
    "待签收": "Awaiting claim",
    "临期": "At risk",
    "已超时": "Breached",
    "本周限时办结率（办结 %(n)s 张）": "On-time closure this week (%(n)s closed)",
    "含延期：%(r)s": "With extensions: %(r)s",
    "本周响应率（%(m)s/%(n)s）": "Response rate this week (%(m)s/%(n)s)",
    "各状态工单数": "Orders by state",
    "待签收工单（签收倒计时）": "Unclaimed orders (claim countdown)",
    "全部 %(n)s 张": "all %(n)s",
    "工单号": "Number",
    "签收时限": "Claim due",
    "倒计时": "Countdown",
    "剩 %(t)s": "%(t)s left",
    "没有待签收的工单。": "No unclaimed orders.",
    "临期工单": "Orders at risk",
    "超时工单": "Breached orders",
    "标题/摘要": "Title / summary",
    "承诺时限": "Promise due",
    "剩余时间": "Time left",
    "无。": "None.",
    "类型": "Type",
    "开始": "Started",
    "原始时限": "Original due",
    "有效时限": "Effective due",
    "暂停累计": "Paused",
    "停止": "Stopped",
    "状态": "State",
    "分": "min",
    "暂无时限。": "No clocks yet.",
    "申请人": "Requested by",
    "申请时间": "Requested at",
    "延期小时数": "Extension (hours)",
    "审批": "Decision",
    "审批意见（可选）": "Note (optional)",
    "批准": "Approve",
    "驳回": "Refuse",
    "无延期申请。": "No extension requests.",
    "无挂起申请。": "No suspension requests.",
    "暂无图片。": "No photos.",
    "处理过程": "Timeline",
    "时间": "Time",
    "类别": "Type",
    "内容": "Content",
    "操作人": "Actor",
    "暂无记录。": "Nothing yet.",
    "确认对该工单执行“%(action)s”？": "Confirm “%(action)s” on this order?",
    "返回工单": "Back to the order",
    "全部日期": "All dates",
    "流转": "Transition",
    "备注": "Note",
    "图片": "Photo",
    "催办": "Chase",
    "督办": "Supervision",
    "时限": "Clock",
    "通知": "Notification",
    "工单号、客户电话（完整号码或后四位）、客户姓名、标题或描述": (
        "Order number, customer phone (full or last four "
        "digits), customer name, title or description"
    ),
    "工单": "Order",
    "客户": "Customer",
    "派单与处理": "Dispatch and handling",
    "回复与回访": "Reply and callback",
    "紧急程度": "Urgency",
    "标记": "Flags",
    "VIP": "VIP",
    "老年": "Elderly",
    "重复": "Repeat",
    "客户电话": "Customer phone",
    "本部门待签收": "My department's unclaimed",
    "待我审批": "Awaiting my approval",
    "一次最多处理 %(n)d 张工单，请缩小范围。": (
        "At most %(n)d orders at a time; please narrow the selection."
    ),
    "派往部门…": "Dispatch to department…",
    "已派往%(dept)s": "Dispatched to %(dept)s",
    "派往部门": "Dispatch to department",
    "签收所选工单": "Claim selected orders",
    "已签收": "Claimed",
    "指派处理人…": "Assign handler…",
    "已指派给%(user)s": "Assigned to %(user)s",
    "批准所选工单的延期申请": "Approve extension requests of selected orders",
    "已批准延期": "Extension approved",
    "%(number)s：%(error)s": "%(number)s: %(error)s",
    "%(number)s：%(message)s": "%(number)s: %(message)s",
    "%(action)s：%(number)s": "%(action)s: %(number)s",
    "已批准延期申请。": "Extension request approved.",
    "已驳回延期申请。": "Extension request refused.",
    "已批准挂起申请，工单已挂起。": "Suspension request approved; the order is suspended.",
    "已驳回挂起申请。": "Suspension request refused.",
    "%(done)s %(n)d 张：%(numbers)s": "%(done)s: %(n)d orders: %(numbers)s",
    "%(number)s 未执行：%(reason)s": "%(number)s not done: %(reason)s",
    "没有待审批的延期申请。": "No pending extension request.",
}
CONTEXTS = {
    ("action", "派单"): "Dispatch",
    ("action", "签收"): "Claim",
    ("action", "退单"): "Request return",
    ("action", "裁定退单"): "Rule on return",
    ("action", "转派"): "Redispatch",
    ("action", "挂起"): "Suspend",
    ("action", "解挂"): "Resume",
    ("action", "回单"): "Reply",
    ("action", "驳回回单"): "Reject reply",
    ("action", "回访办结"): "Call back and close",
    ("action", "确认重办"): "Confirm redo",
    ("action", "作废"): "Cancel",
    ("action", "指派处理人"): "Assign handler",
    ("plural", "角色"): "Roles",
    ("plural", "时限"): "Clocks",
    ("clock outcome", "作废"): "Voided",
    ("plural", "延期申请"): "Extension requests",
    ("plural", "挂起申请"): "Suspension requests",
    ("plural", "图片"): "Photos",
    ("action", "吹哨"): "Report",
    ("action", "指派"): "Assign",
    ("action", "重办"): "Redo",
    ("action", "申请重办"): "Propose redo",
    ("action", "延期"): "Extend",
    ("action", "协办"): "Co-handling",
    ("action", "调整紧急程度"): "Change urgency",
}
PLURALS = {
    "已选 %(n)s 张工单：": ("%(n)s order selected:", "%(n)s orders selected:"),
}


def fill(path: str) -> list[str]:
    """Write the translations into the .po; return the (context, msgid) still untranslated."""
    import re
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8")
    missing = []

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"')

    def unesc(s: str) -> str:
        return s.encode().decode("unicode_escape").encode("latin-1").decode()

    def single(m):
        ctxt = unesc(m.group(2)) if m.group(2) is not None else None
        msgid = unesc(m.group(3))
        en = CONTEXTS.get((ctxt, msgid)) if ctxt is not None else EN.get(msgid)
        if en is not None:
            return f'{m.group(1)}msgid "{m.group(3)}"\nmsgstr "{esc(en)}"'
        if msgid:
            missing.append((ctxt, msgid))
        return m.group(0)

    text = re.sub(
        r'^((?:msgctxt "(.*)"\n)?)msgid "(.*)"\nmsgstr ".*"(?:\n".*")*$', single, text, flags=re.M
    )

    def plural(m):
        msgid = m.group(1)
        if msgid in PLURALS:
            one, many = PLURALS[msgid]
            return (
                f'msgid "{msgid}"\nmsgid_plural "{m.group(2)}"\n'
                f'msgstr[0] "{esc(one)}"\nmsgstr[1] "{esc(many)}"'
            )
        missing.append((None, msgid))
        return m.group(0)

    text = re.sub(
        r'^msgid "(.*)"\nmsgid_plural "(.*)"\nmsgstr\[0\] ".*"(?:\nmsgstr\[1\] ".*")?$',
        plural,
        text,
        flags=re.M,
    )
    text = text.replace(
        '"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\\n"',
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
    )
    text = re.sub(r"^#, fuzzy\n", "", text, flags=re.M)
    text = re.sub(r"^#\| .*\n", "", text, flags=re.M)
    Path(path).write_text(text, encoding="utf-8")
    return missing


if __name__ == "__main__":
    import pathlib

    po = pathlib.Path(__file__).parent / "en" / "LC_MESSAGES" / "django.po"
    left = fill(str(po))
    print("untranslated:", left)
