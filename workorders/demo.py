"""Demo data (DESIGN.md §8): departments, categories, one account per role, and a few hundred
orders in every state, walked through the real services so clocks and audit rows are true.
Idempotent: reference data is upserted; each demo order has a fixed idempotency key and is
skipped when it already exists."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import Department, DepartmentKind, User
from accounts.roles import STAFF_ROLES, Role

from . import services
from .errors import DomainError
from .models import (
    Category,
    CauseCategory,
    Channel,
    ChannelAccount,
    HandlerSkill,
    IdempotencyRecord,
    ReplyTemplate,
    Satisfaction,
    State,
    Urgency,
    VisitOutcome,
)

TEAMS = [
    ("network", "net_wireless", "无线优化班"),
    ("network", "net_broadband", "家宽装维班"),
    ("business", "biz_dispatch", "客服调度中心"),
    ("business", "biz_billing", "计费账务班"),
    ("channel", "chn_counter", "城区一营业厅"),
    ("channel", "chn_field", "装维服务中心"),
    ("systems", "sys_crm", "CRM支撑班"),
]

# (parent code, parent name, code, name, urgency, department code, auto dispatch)
CATEGORIES = [
    (
        "network_quality",
        "网络质量",
        "signal_coverage",
        "信号覆盖",
        Urgency.GENERAL,
        "network",
        False,
    ),
    (
        "network_quality",
        "网络质量",
        "broadband_fault",
        "宽带故障",
        Urgency.GENERAL,
        "net_broadband",
        True,
    ),
    ("billing", "计费缴费", "payment_reconnect", "缴费延开", Urgency.URGENT, "business", False),
    ("billing", "计费缴费", "abnormal_suspension", "异常停机", Urgency.URGENT, "business", False),
    ("billing", "计费缴费", "billing_dispute", "计费争议", Urgency.GENERAL, "biz_billing", False),
    ("service", "服务质量", "service_attitude", "服务态度", Urgency.GENERAL, "channel", False),
    (
        "business_handling",
        "业务办理",
        "number_portability",
        "携号转网",
        Urgency.GENERAL,
        "business",
        False,
    ),
]

# The accounts `seed_demo` prints, one per way of working (README's table of accounts).
LISTED_ACCOUNTS = (
    "frontline",
    "dispatcher",
    "lead",
    "handler",
    "handler_broadband",
    "supervisor",
    "auditor",
)

# (username, name, roles, department code)
ACCOUNTS = [
    ("frontline", "王建国", [Role.FRONTLINE], "chn_field"),
    ("dispatcher", "陈晓燕", [Role.DISPATCHER], "biz_dispatch"),
    ("lead", "李志强", [Role.LEAD], "network"),
    ("handler", "赵磊", [Role.HANDLER], "network"),
    ("supervisor", "周敏", [Role.SUPERVISOR], "business"),
    ("auditor", "孙丽", [Role.AUDITOR], "business"),
    ("frontline2", "刘芳", [Role.FRONTLINE], "chn_counter"),
    ("handler_broadband", "吴刚", [Role.HANDLER], "net_broadband"),
    ("lead_business", "郑伟", [Role.LEAD], "business"),
    ("handler_business", "冯静", [Role.HANDLER], "business"),
    ("lead_channel", "何平", [Role.LEAD], "channel"),
    ("handler_channel", "许婷", [Role.HANDLER], "channel"),
    ("lead_systems", "高峰", [Role.LEAD], "systems"),
    ("handler_systems", "林涛", [Role.HANDLER], "systems"),
]

DESCRIPTIONS = {
    "signal_coverage": [
        "客户反映家中室内4G/5G信号很弱，卧室基本无信号，打电话经常断线。",
        "小区地下车库无信号，客户多次投诉，要求尽快解决覆盖问题。",
        "客户所在写字楼12层信号时有时无，视频会议经常中断。",
    ],
    "broadband_fault": [
        "客户家宽带每晚八点后频繁掉线，光猫LOS灯红灯闪烁。",
        "宽带测速只有标称速率的三分之一，客户要求上门检测。",
        "客户新装宽带三天仍未开通，装维人员联系不上。",
    ],
    "payment_reconnect": [
        "客户已于今日上午通过手机营业厅缴费，至今仍未复机，无法正常通话。",
        "客户在营业厅现金缴清欠费两小时后仍处于停机状态，急需使用。",
    ],
    "abnormal_suspension": [
        "客户账户余额充足却被停机，客户情绪激动，称将向工信部投诉。",
        "客户号码无故被单向停机，查询无欠费记录，要求立即恢复。",
    ],
    "billing_dispute": [
        "客户对上月账单中的增值业务扣费有异议，称从未订购。",
        "客户套餐外流量费用异常偏高，要求核实并退费。",
    ],
    "service_attitude": [
        "客户反映营业厅工作人员办理业务时态度冷淡，解释不清。",
        "装维人员上门未按预约时间到达，且未提前告知客户。",
    ],
    "number_portability": [
        "客户申请携号转出被拒，提示存在未到期合约，客户称合约已到期。",
        "客户携号转入后短信无法接收，影响银行验证码。",
    ],
}
SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
REGIONS = ["西湖区", "上城区", "拱墅区", "滨江区", "萧山区", "余杭区", "临平区", "钱塘区"]
RESULTS = [
    "已上门处理，更换故障设备后测试正常。",
    "已核实并调整配置，客户确认恢复使用。",
    "已为客户办理退费并致电解释原因。",
    "已协调相关部门处理，问题已解决。",
]
SUSPEND_REASONS = ["unreachable", "appointment", "missing_documents"]

# How many demo orders end in each state.
PLAN = [
    (State.REPORTED, 30),
    (State.DISPATCHED, 40),
    (State.RETURN_REQUESTED, 10),
    (State.ACCEPTED, 70),
    (State.SUSPENDED, 15),
    (State.REPLIED, 35),
    (State.CLOSED, 110),
    (State.CANCELLED, 15),
]


@dataclass
class SeedResult:
    created_orders: int
    skipped_orders: int
    notes: list[str] = field(default_factory=list)
    sla_notes: list[str] = field(default_factory=list)


# Apps above `workorders` (the customer side, mass faults) add their own demo data after the
# orders, idempotently: each step is `step(users=..., now=...)` and may return lines for the
# command to print.
_demo_steps: list = []


def register_demo_step(step, *, order: int = 100) -> None:
    """Steps run by `order`, then in the order they were registered."""
    if all(step is not known for _o, _n, known in _demo_steps):
        _demo_steps.append((order, len(_demo_steps), step))


def seed_reference_data() -> dict[str, Department]:
    depts = {d.code: d for d in Department.objects.all()}
    for parent_code, code, name in TEAMS:
        dept, _created = Department.objects.update_or_create(
            code=code,
            defaults={"name": name, "kind": DepartmentKind.TEAM, "parent": depts[parent_code]},
        )
        depts[code] = dept
    for pcode, pname, code, name, urgency, dept_code, auto in CATEGORIES:
        parent, _ = Category.objects.update_or_create(code=pcode, defaults={"name": pname})
        Category.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "parent": parent,
                "default_urgency": urgency,
                "default_department": depts[dept_code],
                "auto_dispatch": auto,
            },
        )
    return depts


def seed_accounts(depts: dict[str, Department], password: str) -> dict[str, User]:
    users = {}
    for username, name, roles, dept_code in ACCOUNTS:
        user, created = User.objects.get_or_create(username=username)
        user.first_name = name
        user.department = depts[dept_code]
        user.is_staff = bool(set(roles) & STAFF_ROLES)
        if created or not user.check_password(password):
            user.set_password(password)
        user.save()
        user.groups.set(Group.objects.filter(name__in=roles))
        users[username] = user
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if created or not admin.check_password(password):
        admin.set_password(password)
        admin.save()
    users["admin"] = admin
    return users


def _people_for(users: dict[str, User], dept: Department) -> tuple[User, User]:
    """The lead and handler who work orders sent to `dept`."""
    line = dept if dept.kind != DepartmentKind.TEAM else dept.parent
    lead = {
        "network": "lead",
        "business": "lead_business",
        "channel": "lead_channel",
        "systems": "lead_systems",
    }[line.code]
    handler = {
        "net_broadband": "handler_broadband",
        "network": "handler",
        "net_wireless": "handler",
        "business": "handler_business",
        "biz_billing": "handler_business",
        "biz_dispatch": "handler_business",
        "channel": "handler_channel",
        "chn_counter": "handler_channel",
        "chn_field": "handler_channel",
        "systems": "handler_systems",
        "sys_crm": "handler_systems",
    }[dept.code]
    return users[lead], users[handler]


class _Clock:
    """Step times for one order's walk: increasing, never past `limit`."""

    def __init__(self, start: datetime, limit: datetime, rng: random.Random):
        self.t, self.limit, self.rng = start, limit, rng

    def after(self, lo_h: float, hi_h: float) -> datetime:
        step = timedelta(hours=self.rng.uniform(lo_h, hi_h))
        room = self.limit - self.t
        if step >= room:
            step = room * self.rng.uniform(0.2, 0.6)
        self.t = self.t + step
        return self.t


def _walk(order_no: int, target: str, users, cats, rng: random.Random, now: datetime) -> None:
    cat = rng.choice(cats)
    urgent = cat.default_urgency == Urgency.URGENT
    # Open orders are recent (some at risk, some breached); finished ones are older.
    if target in (State.CLOSED, State.CANCELLED):
        start = now - timedelta(days=rng.uniform(3, 28))
    elif urgent:
        start = now - timedelta(hours=rng.uniform(0.5, 6))
    else:
        start = now - timedelta(hours=rng.uniform(1, 60))
    clock = _Clock(start, now - timedelta(minutes=1), rng)
    reporter = users["frontline"] if rng.random() < 0.6 else users["frontline2"]
    phone = f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
    if order_no % 9 == 0:  # some customers complain again about the same thing
        phone = f"1390571{order_no % 4:04d}"
    star = rng.choice([None, 1, 2, 3, 3, 4, 5])
    ticket = services.ticket_report(
        by=reporter,
        category=cat,
        customer_phone=phone,
        description=rng.choice(DESCRIPTIONS[cat.code]),
        customer_name=rng.choice(SURNAMES) + rng.choice(["先生", "女士"]),
        customer_region="杭州市" + rng.choice(REGIONS),
        customer_address=f"杭州市{rng.choice(REGIONS)}文三路{rng.randint(1, 400)}号",
        star_level=star,
        is_elderly=rng.random() < 0.12,
        claimed_escalation=rng.random() < 0.08,
        channel=rng.choice(["field", "field", "counter", "hotline", "social", "online", "app"]),
        idempotency_key=f"seed-demo-{order_no}",
        now=start,
    )
    disp = users["dispatcher"]
    if target == State.REPORTED:
        return
    if target == State.CANCELLED:
        services.ticket_cancel(
            ticket=ticket, by=disp, reason="客户来电撤销投诉", now=clock.after(0.1, 1)
        )
        return
    if ticket.state == State.REPORTED:
        if target == State.DISPATCHED and rng.random() < 0.2:
            return  # still waiting for dispatch
        services.ticket_dispatch(
            ticket=ticket,
            by=disp,
            department=cat.default_department,
            now=clock.after(0.05, 1.5 if not urgent else 0.3),
        )
    lead, handler = _people_for(users, ticket.department)
    if target == State.RETURN_REQUESTED:
        services.ticket_request_return(
            ticket=ticket, by=lead, reason="经核查，该问题属于其他专业线", now=clock.after(0.1, 1)
        )
        return
    if rng.random() < 0.1:  # a misrouted order bounced and ruled
        services.ticket_request_return(
            ticket=ticket, by=lead, reason="非本部门职责", now=clock.after(0.1, 1)
        )
        services.ticket_rule_return(
            ticket=ticket,
            by=disp,
            uphold=False,
            comment="经核实属于本部门处理范围",
            now=clock.after(0.1, 1),
        )
    if target == State.DISPATCHED:
        return
    services.ticket_claim(
        ticket=ticket, by=lead, handler=handler, now=clock.after(0.05, 2 if not urgent else 0.4)
    )
    if rng.random() < 0.15:
        services.ticket_comment(
            ticket=ticket, by=handler, body="已联系客户，约定上门时间。", now=clock.after(0.1, 2)
        )
    if target == State.SUSPENDED or (target in (State.CLOSED,) and rng.random() < 0.1):
        t = clock.after(0.2, 4)
        services.ticket_suspend(
            ticket=ticket,
            by=lead,
            reason=rng.choice(SUSPEND_REASONS),
            until=t + timedelta(hours=rng.uniform(6, 48)),
            note="客户要求改约",
            now=t,
        )
        if target == State.SUSPENDED:
            return
        services.ticket_resume(ticket=ticket, by=handler, now=clock.after(2, 20))
    if target == State.ACCEPTED:
        if rng.random() < 0.2:
            services.ticket_chase(
                ticket=ticket, by=reporter, note="客户再次来电催促", now=clock.after(0.1, 3)
            )
        return
    services.ticket_reply(
        ticket=ticket,
        by=handler,
        result=rng.choice(RESULTS),
        cause=rng.choice(CauseCategory.values),
        resolved=rng.random() < 0.9,
        now=clock.after(1, 30 if not urgent else 3.5),
    )
    if target == State.REPLIED:
        return
    roll = rng.random()
    if roll < 0.08:
        services.ticket_close(
            ticket=ticket,
            by=disp,
            outcome=VisitOutcome.UNREACHABLE,
            note="三次致电未接通",
            now=clock.after(1, 20),
        )
        return
    satisfaction = rng.choices(Satisfaction.values, weights=[70, 20, 10])[0]
    if satisfaction == Satisfaction.UNSATISFIED and rng.random() < 0.6:
        services.ticket_visit(
            ticket=ticket,
            by=disp,
            outcome=VisitOutcome.SUCCESS,
            resolved=False,
            satisfaction=satisfaction,
            note="客户表示问题仍存在",
            now=clock.after(1, 10),
        )
        services.ticket_redo(ticket=ticket, by=users["supervisor"], now=clock.after(0.5, 4))
        services.ticket_reply(
            ticket=ticket,
            by=handler,
            result="二次上门，已彻底解决。",
            cause="network",
            resolved=True,
            now=clock.after(2, 24),
        )
        satisfaction = Satisfaction.BASICALLY
    services.ticket_close(
        ticket=ticket,
        by=disp,
        outcome=VisitOutcome.SUCCESS,
        resolved=satisfaction != Satisfaction.UNSATISFIED,
        satisfaction=satisfaction,
        now=clock.after(1, 20),
    )


def seed_orders(users: dict[str, User], *, now: datetime | None = None) -> SeedResult:
    now = now or timezone.now()
    rng = random.Random(20261122)
    cats = list(Category.objects.filter(parent__isnull=False).select_related("default_department"))
    existing = set(
        IdempotencyRecord.objects.filter(key__startswith="seed-demo-").values_list("key", flat=True)
    )
    created = skipped = 0
    order_no = 0
    for state, count in PLAN:
        for _ in range(count):
            order_no += 1
            # Consume the same randomness whether or not the order exists, so reruns agree.
            sub = random.Random(rng.random())
            if f"seed-demo-{order_no}" in existing:
                skipped += 1
                continue
            with transaction.atomic():
                try:
                    _walk(order_no, state, users, cats, sub, now)
                except DomainError as exc:  # pragma: no cover - a demo walk should never fail
                    raise RuntimeError(f"demo order {order_no} ({state}): {exc}") from exc
            created += 1
    return SeedResult(created, skipped)


# Channel systems' service accounts (role 渠道系统) and the orders they file through intake.
CHANNEL_ACCOUNTS = [
    ("cti_hotline", "10010热线CTI", Channel.HOTLINE),
    ("regulator_transfer", "工信部申诉转办", Channel.REGULATOR),
]
INTAKE_ORDERS = [
    # (account, external id, category code, phone, description, agent)
    (
        "cti_hotline",
        "CTI-20261122-0001",
        "broadband_fault",
        "13700001111",
        "来电称宽带晚高峰频繁掉线，已重启光猫无效",
        "8801 李娜",
    ),
    (
        "cti_hotline",
        "CTI-20261122-0002",
        "signal_coverage",
        "13700002222",
        "来电称小区地下车库无信号",
        "8802 张伟",
    ),
    (
        "regulator_transfer",
        "MIIT-2026-110231",
        "broadband_fault",
        "13700003333",
        "用户向工信部申诉：宽带故障报修三次未修复",
        "转办员 刘洋",
    ),
    (
        "regulator_transfer",
        "MIIT-2026-110232",
        "number_portability",
        "13700004444",
        "用户向工信部申诉：携号转网被拒，未说明原因",
        "转办员 刘洋",
    ),
]


def seed_channel_intake(password: str, *, now: datetime) -> list[str]:
    """The channel service accounts and a few orders they file (idempotent by external id)."""
    group = Group.objects.get(name=Role.CHANNEL)
    dept = Department.objects.get(code="channel")
    accounts = {}
    for username, name, channel in CHANNEL_ACCOUNTS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": name, "department": dept}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        user.groups.set([group])
        ChannelAccount.objects.update_or_create(user=user, defaults={"channel": channel})
        accounts[username] = user
    for i, (username, external_id, code, phone, text, agent) in enumerate(INTAKE_ORDERS):
        services.ticket_intake(
            by=accounts[username],
            external_id=external_id,
            category=code,
            customer_phone=phone,
            description=text,
            agent=agent,
            now=now - timedelta(hours=6 - i),
        )
    lines = ["Channel service accounts (role channel; API token: manage.py drf_create_token):"]
    lines += [f"  {u:<18} {n}  {c}" for u, n, c in CHANNEL_ACCOUNTS]
    return lines


# 回复模板 and handler skills of the demo departments: (department, category or group, cause,
# title, result, public reply) and (handler, category or group).
REPLY_TEMPLATES = [
    (
        "network",
        "network_quality",
        "network",
        "基站优化后恢复",
        "经核查为周边基站覆盖不足，已调整天线参数并优化邻区，复测信号正常。",
        "您好，您反映的信号问题已处理，周边基站已完成优化。如仍有问题请随时联系我们。",
    ),
    (
        "network",
        "broadband_fault",
        "network",
        "光猫更换",
        "上门检测光猫故障，已更换光猫并测速正常。",
        "您好，已为您更换光猫，宽带已恢复正常使用。",
    ),
    (
        "network",
        None,
        "customer",
        "客户侧原因",
        "经上门核查为客户室内线路/终端问题，已向客户说明处理办法。",
        "您好，经检查问题出在室内线路或终端，已现场向您说明处理办法。",
    ),
    (
        "business",
        "billing",
        "business",
        "缴费到账后复机",
        "核实缴费已到账，已手工复机，客户确认可正常使用。",
        "您好，您的缴费已到账，号码已恢复正常使用。给您带来不便，敬请谅解。",
    ),
]
SKILLS = [
    ("handler", "network_quality"),
    ("handler_broadband", "broadband_fault"),
    ("handler_business", "billing"),
]


def seed_department_setup(depts: dict[str, Department], users: dict[str, User]) -> None:
    """Reply templates and handler skills (auto-assign stays off: a department switches it
    on in the admin)."""
    cats = {c.code: c for c in Category.objects.all()}
    for dept, cat, cause, title, result, public in REPLY_TEMPLATES:
        ReplyTemplate.objects.update_or_create(
            department=depts[dept],
            title=title,
            defaults={
                "category": cats[cat] if cat else None,
                "cause": cause,
                "result": result,
                "public_reply": public,
            },
        )
    for username, cat in SKILLS:
        if username in users:
            HandlerSkill.objects.get_or_create(user=users[username], category=cats[cat])


def seed_demo(*, now: datetime | None = None) -> SeedResult:
    from sla.demo import seed_sla_demo

    depts = seed_reference_data()
    users = seed_accounts(depts, settings.DEMO_PASSWORD)
    seed_department_setup(depts, users)
    sla = seed_sla_demo()
    result = seed_orders(users, now=now)
    result.sla_notes = sla.skipped_years
    result.notes.extend(seed_channel_intake(settings.DEMO_PASSWORD, now=now or timezone.now()))
    for _order, _n, step in sorted(_demo_steps, key=lambda entry: entry[:2]):
        result.notes.extend(step(users=users, now=now or timezone.now()) or [])
    return result
