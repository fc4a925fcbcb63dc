"""Factories shared by the test suite, plus `ticket_in_state` which walks an order to any state
through the real services (so clocks and audit rows are as in production)."""

from __future__ import annotations

from datetime import datetime, timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Department, User
from workorders import services
from workorders.models import Category, State, Ticket

PASSWORD = "pw-for-tests-1"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"部门{n}")
    code = factory.Sequence(lambda n: f"dept{n}")
    kind = "team"
    parent = factory.LazyFunction(lambda: Department.objects.get(code="network"))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    department = factory.LazyFunction(lambda: Department.objects.get(code="network"))
    is_staff = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        self.set_password(PASSWORD)
        self.save()
        for role in extracted or ():
            self.groups.add(Group.objects.get(name=role))


def user_with(*roles: str, department: Department | None = None, **kw) -> User:
    if department is not None:
        kw["department"] = department
    return UserFactory(roles=roles, **kw)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"分类{n}")
    code = factory.Sequence(lambda n: f"cat{n}")
    default_urgency = "general"


def jpeg_bytes() -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


class Cast:
    """One user per role, with lead and handler in the network line."""

    def __init__(self) -> None:
        self.network = Department.objects.get(code="network")
        self.business = Department.objects.get(code="business")
        self.channel = Department.objects.get(code="channel")
        self.frontline = user_with("frontline", department=self.channel, username="t_front")
        self.other_frontline = user_with("frontline", department=self.channel, username="t_front2")
        self.dispatcher = user_with("dispatcher", department=self.business, username="t_disp")
        self.lead = user_with("lead", department=self.network, username="t_lead")
        self.handler = user_with("handler", department=self.network, username="t_handler")
        self.other_lead = user_with("lead", department=self.business, username="t_lead_biz")
        self.supervisor = user_with("supervisor", department=self.business, username="t_sup")
        self.auditor = user_with("auditor", department=self.business, username="t_aud")
        self.category = CategoryFactory(name="宽带故障", code="broadband_fault")
        self.urgent_category = CategoryFactory(
            name="缴费延开", code="payment_reconnect", default_urgency="urgent"
        )

    def by_role(self, role: str) -> User:
        return getattr(self, role)


def report(
    cast: Cast, *, now: datetime | None = None, category=None, phone="13800138000", by=None, **kw
) -> Ticket:
    return services.ticket_report(
        by=by or cast.frontline,
        category=category or cast.category,
        customer_phone=phone,
        description=kw.pop("description", "家里宽带经常掉线，晚上无法上网"),
        now=now,
        **kw,
    )


def ticket_in_state(cast: Cast, state: str, *, now: datetime | None = None, **kw) -> Ticket:
    """Walk a new order to `state` through the services, one minute per step."""
    t0 = now or timezone.now()
    step = iter(t0 + timedelta(minutes=i) for i in range(100))
    t = report(cast, now=next(step), **kw)
    if state == State.REPORTED:
        return t
    if state == State.CANCELLED:
        return services.ticket_cancel(ticket=t, by=cast.dispatcher, reason="重复", now=next(step))
    services.ticket_dispatch(ticket=t, by=cast.dispatcher, department=cast.network, now=next(step))
    if state == State.DISPATCHED:
        return t
    if state == State.RETURN_REQUESTED:
        return services.ticket_request_return(
            ticket=t, by=cast.lead, reason="非本部门", now=next(step)
        )
    services.ticket_claim(ticket=t, by=cast.lead, handler=cast.handler, now=next(step))
    if state == State.ACCEPTED:
        return t
    if state == State.SUSPENDED:
        n = next(step)
        return services.ticket_suspend(
            ticket=t, by=cast.lead, reason="appointment", until=n + timedelta(hours=5), now=n
        )
    services.ticket_reply(
        ticket=t,
        by=cast.handler,
        result="已更换光猫，恢复正常",
        cause="network",
        resolved=True,
        now=next(step),
    )
    if state == State.REPLIED:
        return t
    services.ticket_close(
        ticket=t,
        by=cast.dispatcher,
        outcome="success",
        resolved=True,
        satisfaction="satisfied",
        now=next(step),
    )
    assert t.state == State.CLOSED
    return t
