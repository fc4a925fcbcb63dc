"""`accounts.lookups.RowLookup` returns what the ORM's select_related look-up returns: the same
instances, field by field (converted as the ORM converts them), linked so that following the
foreign keys queries nothing more; None for no row, and None for a null foreign key."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from accounts.lookups import RowLookup
from accounts.tokens import TOKEN_WITH_USER
from tests.factories import CategoryFactory
from workorders.models import Category

pytestmark = pytest.mark.django_db

CATEGORY_BY_ID = RowLookup(Category, "id", ("default_department",))
CATEGORY_BY_CODE = RowLookup(Category, "code", ("default_department",))


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_a_token_with_its_user_and_department(cast, django_assert_num_queries):
    token = Token.objects.create(user=cast.frontline)
    orm = Token.objects.select_related("user__department").get(key=token.key)
    with django_assert_num_queries(1):
        found = TOKEN_WITH_USER.get(token.key)
        assert found.user.department.code == "channel"
    assert _fields(found) == _fields(orm)
    assert _fields(found.user) == _fields(orm.user)  # dates, booleans, the password hash
    assert _fields(found.user.department) == _fields(orm.user.department)
    assert not found._state.adding and found.user._state.db == "default"
    assert TOKEN_WITH_USER.get("no-such-key") is None


def test_a_null_foreign_key_gives_none_and_no_query(cast, django_assert_num_queries):
    cast.frontline.department = None
    cast.frontline.save()
    token = Token.objects.create(user=cast.frontline)
    with django_assert_num_queries(1):
        found = TOKEN_WITH_USER.get(token.key)
        assert found.user == cast.frontline and found.user.department is None


def test_a_category_by_id_or_code_with_its_routing_department(cast, django_assert_num_queries):
    routed = CategoryFactory(code="t_routed", default_department=cast.network, auto_dispatch=True)
    for lookup, value in ((CATEGORY_BY_ID, routed.pk), (CATEGORY_BY_CODE, "t_routed")):
        with django_assert_num_queries(1):
            found = lookup.get(value)
            assert found.default_department == cast.network
        orm = Category.objects.select_related("default_department").get(pk=routed.pk)
        assert _fields(found) == _fields(orm)
        assert _fields(found.default_department) == _fields(orm.default_department)
    plain = CATEGORY_BY_CODE.get(cast.category.code)
    assert plain == cast.category and plain.default_department is None
    assert CATEGORY_BY_ID.get(10**9) is None


def test_a_lookup_is_compiled_once_per_database():
    lookup = RowLookup(Category, "code", ("default_department",))
    assert lookup.get("nothing") is None
    assert lookup.get("nothing") is None
    assert list(lookup._compiled) == [connection.vendor]


def test_a_condition_and_an_order_give_the_orms_first_row(cast):
    """The repeat look-up: the newest order of the phone and category within the window, the
    same instance field by field as the ORM's; None outside the window."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import report
    from workorders.models import Ticket
    from workorders.services.intake import REPEAT_WINDOW, find_repeat_of

    now = timezone.now()
    first = report(cast, phone="13900000011", now=now - timedelta(days=3))
    second = report(cast, phone="13900000011", now=now - timedelta(days=1))
    found = find_repeat_of(phone="13900000011", category=cast.category, now=now)
    assert found == second and second.repeat_of == first
    assert _fields(found) == _fields(Ticket.objects.get(pk=second.pk))
    later = now + REPEAT_WINDOW + timedelta(days=2)
    assert find_repeat_of(phone="13900000011", category=cast.category, now=later) is None
    assert find_repeat_of(phone="13900000012", category=cast.category, now=now) is None
