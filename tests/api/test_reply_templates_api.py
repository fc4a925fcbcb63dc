"""回复模板 over the API: the templates that match an order, for those who may see it."""

import pytest

from tests.api.conftest import client_for
from tests.backoffice.test_reply_templates import tpl
from tests.factories import ticket_in_state, user_with
from workorders.models import State

pytestmark = pytest.mark.django_db


def test_api_lists_the_orders_templates(cast, api):
    own = tpl(cast.network, cast.category, title="光猫更换", public_reply="已恢复")
    tpl(cast.business, cast.category)
    t = ticket_in_state(cast, State.ACCEPTED)
    r = api("handler").get(f"/api/v1/tickets/{t.number}/reply-templates/")
    assert r.status_code == 200
    body = r.json()
    assert [x["id"] for x in body] == [own.pk]
    assert body[0]["public_reply"] == "已恢复"
    assert body[0]["department"]["code"] == "network"
    assert body[0]["cause"] == "network"


def test_api_templates_need_the_order_visible(cast, api):
    t = ticket_in_state(cast, State.ACCEPTED)
    outsider = user_with("handler", department=cast.business, username="t_biz_h")
    r = client_for(outsider).get(f"/api/v1/tickets/{t.number}/reply-templates/")
    assert r.status_code == 404
