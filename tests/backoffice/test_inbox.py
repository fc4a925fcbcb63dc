"""The notification bell on every back-office page and the inbox inside the back office."""

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification, NotificationKind
from tests.backoffice.conftest import change_url, changelist_url
from tests.factories import ticket_in_state
from workorders.models import State

pytestmark = pytest.mark.django_db

INBOX = "admin:workorders_ticket_inbox"


def note(user, ticket=None, n=0, read=False):
    return Notification.objects.create(
        recipient=user,
        ticket=ticket,
        kind=NotificationKind.ESCALATE,
        key=f"test:{user.pk}:{n}",
        title=f"工单升级 {n}",
        body="请督办",
        created_at=timezone.now(),
        read_at=timezone.now() if read else None,
    )


def bell_count(response) -> str:
    body = response.content.decode()
    start = body.index('id="bo-bell-count">') + len('id="bo-bell-count">')
    return body[start : body.index("<", start)]


@pytest.mark.parametrize(
    "page",
    [
        lambda t: reverse("admin:index"),
        lambda t: changelist_url(),
        lambda t: change_url(t),
        lambda t: reverse("admin:workorders_ticket_dashboard"),
        lambda t: reverse(INBOX),
    ],
)
def test_bell_shows_the_unread_count_on_every_back_office_page(cast, client_for, page):
    t = ticket_in_state(cast, State.ACCEPTED)
    for i in range(3):
        note(cast.supervisor, t, i)
    note(cast.supervisor, t, 9, read=True)
    note(cast.lead, t, 10)  # someone else's
    response = client_for(cast.supervisor).get(page(t))
    assert response.status_code == 200
    assert bell_count(response) == "3"
    assert f'href="{reverse(INBOX)}"' in response.content.decode()


def test_links_to_reports_and_phone_pages_by_role(cast, client_for):
    dispatcher = client_for(cast.dispatcher).get(changelist_url()).content.decode()
    assert 'id="bo-reports-link"' in dispatcher and 'id="bo-phone-link"' in dispatcher
    supervisor = client_for(cast.supervisor).get(changelist_url()).content.decode()
    assert 'id="bo-phone-link"' not in supervisor
    handler = client_for(cast.handler).get(changelist_url()).content.decode()
    assert 'id="bo-reports-link"' not in handler


def test_staff_landing_on_root_still_go_to_the_admin(cast, client_for):
    response = client_for(cast.supervisor).get("/")
    assert response.status_code == 302 and response.url == reverse("admin:index")


def test_inbox_lists_marks_read_and_opens_the_order(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    first = note(cast.supervisor, t, 1)
    second = note(cast.supervisor, t, 2)
    old = note(cast.supervisor, t, 3, read=True)
    client = client_for(cast.supervisor)
    unread = client.get(reverse(INBOX))
    assert [n.pk for n in unread.context["page_obj"]] == [second.pk, first.pk]
    everything = client.get(reverse(INBOX) + "?show=all")
    assert old.pk in [n.pk for n in everything.context["page_obj"]]
    # Mark one read.
    client.post(reverse("admin:workorders_ticket_inbox_read"), {"id": [first.pk]})
    first.refresh_from_db()
    assert first.read_at is not None
    # Open the other: read, and its order's back-office page.
    response = client.post(reverse("admin:workorders_ticket_inbox_open", args=[second.pk]))
    assert response.status_code == 302 and response.url == change_url(t)
    second.refresh_from_db()
    assert second.read_at is not None
    assert bell_count(client.get(reverse(INBOX))) == "0"


def test_inbox_is_ones_own_and_mark_all(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    theirs = note(cast.lead, t, 1)
    mine = [note(cast.supervisor, t, i) for i in range(2, 5)]
    client = client_for(cast.supervisor)
    assert (
        client.post(reverse("admin:workorders_ticket_inbox_open", args=[theirs.pk])).status_code
        == 404
    )
    client.post(reverse("admin:workorders_ticket_inbox_read"), {"all": "1"})
    assert Notification.objects.filter(pk__in=[n.pk for n in mine], read_at=None).count() == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_a_note_about_an_order_no_longer_visible_stays_in_the_inbox(cast, client_for):
    t = ticket_in_state(cast, State.DISPATCHED)
    n = note(cast.other_lead, t, 1)
    client = client_for(cast.other_lead)
    response = client.post(reverse("admin:workorders_ticket_inbox_open", args=[n.pk]))
    assert response.url == reverse(INBOX)
