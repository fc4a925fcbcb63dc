"""The report form's 发现时间 (found at): sent by the page's script for a report kept offline;
the order page shows it; out of bounds, the form says why and keeps everything else."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.web.test_report import URL, form_data
from workorders.models import Ticket


def test_report_sent_later_keeps_its_found_at_and_the_order_page_shows_it(front, cast):
    found = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    response = front.post(URL, form_data(cast, found_at=found.isoformat()))

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert ticket.found_at == found
    page = front.get(reverse("web:order", args=[ticket.number])).content.decode()
    shown = timezone.localtime(found).strftime("%Y-%m-%d %H:%M")
    assert f'<dd id="found-at">{shown}</dd>' in page


def test_found_at_too_old_is_refused_next_to_the_form_and_cleared_for_the_retry(front, cast):
    old = timezone.now() - timedelta(hours=73)
    response = front.post(URL, form_data(cast, found_at=old.isoformat(), customer_name="赵六"))

    html = response.content.decode()
    assert response.status_code == 400
    assert not Ticket.objects.exists()
    assert "发现时间不能早于72小时前。" in html
    assert "已清除发现时间" in html
    assert 'name="found_at" id="id_found_at" value=""' in html
    assert 'value="赵六"' in html  # nothing else entered is lost


def test_found_at_in_the_future_is_refused(front, cast):
    later = timezone.now() + timedelta(hours=1)
    response = front.post(URL, form_data(cast, found_at=later.isoformat()))

    assert response.status_code == 400
    assert "发现时间不能晚于当前时间。" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_same_offline_report_sent_twice_makes_one_order(front, cast):
    data = form_data(cast, found_at=(timezone.now() - timedelta(minutes=30)).isoformat())
    first = front.post(URL, data)
    second = front.post(URL, data)

    ticket = Ticket.objects.get()
    assert first.url == second.url == reverse("web:order", args=[ticket.number])
