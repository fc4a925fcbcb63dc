"""The phone report form while a fault is open: "该区域已有群障 QZ…，预计 HH:MM 恢复" before
submit (JSON for the page's script; server-rendered when the form comes back), and the new
order linked on submit unless the reporter unticked "related"."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from faults.detection import fault_detect
from faults.models import Fault, FaultLink, LinkHow
from faults.services import fault_confirm
from workorders.models import Ticket

from .conftest import orders_near

pytestmark = pytest.mark.django_db

URL = reverse("web:report")
CHECK = reverse("web:fault_check")


def client(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


@pytest.fixture
def fault(cast, net):
    """A confirmed coverage fault in 西湖区 with an ETA."""
    now = timezone.now()
    orders_near(cast, net.coverage, n=5, now=now, region="西湖区")
    fault_detect(now=now)
    eta = timezone.localtime(now + timedelta(hours=2)).replace(second=0, microsecond=0)
    return fault_confirm(fault=Fault.objects.get(), by=cast.dispatcher, eta=eta, now=now).fault


def hint(fault) -> str:
    return f"该区域已有群障 {fault.number}，预计 {timezone.localtime(fault.eta):%H:%M} 恢复。"


def form(category, **over):
    data = {
        "form_key": uuid.uuid4().hex,
        "category": category.pk,
        "channel": "field",
        "customer_phone": "13912345678",
        "customer_region": "西湖区",
        "description": "手机没有信号",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_the_json_hint_for_category_and_area(cast, net, fault):
    c = client(cast.frontline)
    body = c.get(CHECK, {"category": net.coverage.pk, "region": "西湖区"}).json()
    assert body == {"fault": True, "number": fault.number, "message": hint(fault)}
    # By location alone (the fault's orders carry GPS), with no region typed.
    lat, lng = fault.center_lat, fault.center_lng
    assert c.get(CHECK, {"category": net.coverage.pk, "lat": lat, "lng": lng}).json()["fault"]
    # Another category, another district, far away: nothing.
    assert not c.get(CHECK, {"category": net.broadband.pk, "region": "西湖区"}).json()["fault"]
    assert not c.get(CHECK, {"category": net.coverage.pk, "region": "萧山区"}).json()["fault"]
    assert not c.get(CHECK, {"category": "x"}).json()["fault"]
    assert client(cast.auditor).get(CHECK, {"category": net.coverage.pk}).status_code == 403


def test_a_matching_report_is_linked_and_the_order_page_says_so(cast, net, fault):
    c = client(cast.frontline)
    r = c.post(URL, form(net.coverage))
    assert r.status_code == 302
    ticket = Ticket.objects.latest("id")
    link = FaultLink.objects.get(ticket=ticket)
    # The reporter did not see the hint (no script): linked by the system.
    assert (link.fault, link.how, link.linked_by) == (fault, LinkHow.AUTO, None)
    page = c.get(r.url).content.decode()
    assert hint(fault) in page  # the success notice and the order's fault box
    assert "本单已关联该群障" in page
    # Linked to a confirmed fault: dispatched to its department with it.
    ticket.refresh_from_db()
    assert ticket.department == cast.network


def test_the_reporter_saw_the_hint_and_kept_it(cast, net, fault):
    r = client(cast.frontline).post(
        URL, form(net.coverage, fault_shown=fault.number, fault_related="on")
    )
    assert r.status_code == 302
    link = FaultLink.objects.get(ticket=Ticket.objects.latest("id"))
    assert (link.how, link.linked_by) == (LinkHow.SUGGESTED, cast.frontline)


def test_the_reporter_says_it_is_not_related(cast, net, fault):
    r = client(cast.frontline).post(URL, form(net.coverage, fault_shown=fault.number))
    assert r.status_code == 302
    ticket = Ticket.objects.latest("id")
    assert not FaultLink.objects.filter(ticket=ticket, unlinked_at__isnull=True).exists()
    declined = FaultLink.objects.get(ticket=ticket)
    assert declined.unlink_reason == "报单人表示与群障无关"
    # Detection leaves it alone too.
    fault_detect(now=timezone.now() + timedelta(minutes=1))
    assert not FaultLink.objects.filter(ticket=ticket, unlinked_at__isnull=True).exists()
    assert "本单已关联该群障" not in client(cast.frontline).get(r.url).content.decode()


def test_a_refused_form_shows_the_hint_without_script(cast, net, fault):
    r = client(cast.frontline).post(URL, form(net.coverage, customer_phone=""))
    assert r.status_code == 400
    html = r.content.decode()
    assert hint(fault) in html
    assert f'name="fault_shown" id="id_fault_shown" value="{fault.number}"' in html
    assert 'id="fault-box" class="warn" aria-live="polite" hidden' not in html
    assert Ticket.objects.filter(customer_phone="").count() == 0


def test_no_hint_and_no_link_elsewhere(cast, net, fault):
    r = client(cast.frontline).post(URL, form(net.coverage, customer_region="萧山区"))
    assert r.status_code == 302
    assert not FaultLink.objects.filter(ticket=Ticket.objects.latest("id")).exists()
    html = client(cast.frontline).get(URL).content.decode()
    assert 'id="fault-box" class="warn" aria-live="polite" hidden' in html
