"""Chinese by default; English from the back office's catalogue."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import ticket_in_state
from workorders.models import State

pytestmark = pytest.mark.django_db


def page(user, url: str, lang: str) -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_changelist_order_page_and_dashboard_in_both_languages(cast):
    t = ticket_in_state(cast, State.DISPATCHED)
    urls = [
        reverse("admin:workorders_ticket_changelist"),
        reverse("admin:workorders_ticket_change", args=[t.pk]),
        reverse("admin:workorders_ticket_dashboard"),
    ]
    zh = [page(cast.lead, u, "zh-hans") for u in urls]
    en = [page(cast.lead, u, "en") for u in urls]
    assert "待我审批" in zh[0] and "剩余时间" in zh[0]
    assert "Awaiting my approval" in en[0] and "Time left" in en[0]
    assert "待我审批" not in en[0] and "剩余时间" not in en[0]
    assert ">签收<" in zh[1] and ">Claim<" in en[1]
    assert "处理过程" in zh[1] and "Timeline" in en[1] and "处理过程" not in en[1]
    assert "各状态工单数" in zh[2] and "Orders by state" in en[2]
    assert "Department dashboard" in en[2]


def test_the_admin_switches_to_english_and_remembers_it(cast):
    client = Client()
    client.force_login(cast.lead)
    url = reverse("admin:workorders_ticket_changelist")
    html = client.get(url).content.decode()
    # The switch offers the other language, named in that language.
    assert 'id="language-switch"' in html and 'value="en"' in html and "English" in html
    assert "待我审批" in html
    response = client.post(reverse("set_language"), {"language": "en", "next": url})
    assert response.status_code == 302 and response.url == url
    html = client.get(url).content.decode()
    assert "Awaiting my approval" in html and "待我审批" not in html
    assert 'value="zh-hans"' in html  # and offers the way back


def test_the_admin_carries_the_products_name_in_both_languages(cast):
    url = reverse("admin:index")
    zh, en = page(cast.lead, url, "zh-hans"), page(cast.lead, url, "en")
    assert "吹哨 · 工单后台" in zh and "<title>工作台 | 吹哨工单后台</title>" in zh
    assert "Whistle · Back office" in en and "Django" not in en.split("<body")[1][:3000]
