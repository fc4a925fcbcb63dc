"""Reference data is editable by superusers only."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import Department, User
from sla.models import Calendar, SlaPolicy
from workorders.models import Category

pytestmark = pytest.mark.django_db

MODELS = [
    ("accounts", "department", Department),
    ("accounts", "user", User),
    ("workorders", "category", Category),
    ("sla", "slapolicy", SlaPolicy),
    ("sla", "calendar", Calendar),
]
# SLA rule versions are history (clocks point to them): nobody deletes them, a superuser
# retires a rule instead (tests/backoffice/test_sla_admin.py).
NEVER_DELETED = {SlaPolicy}


@pytest.fixture(autouse=True)
def _a_calendar(db):
    Calendar.objects.create(code="office", name="机关 5×8", hours_mon="09:00-17:00")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")


@pytest.mark.parametrize(("app", "model", "cls"), MODELS)
def test_superuser_may_add_change_delete(superuser, cast, client_for, app, model, cls):
    client = client_for(superuser)
    assert client.get(reverse(f"admin:{app}_{model}_add")).status_code == 200
    obj = cls.objects.first() or (superuser if cls is User else None)
    page = client.get(reverse(f"admin:{app}_{model}_change", args=[obj.pk]))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is True
    assert page.context["has_delete_permission"] is (cls not in NEVER_DELETED)


@pytest.mark.parametrize(("app", "model", "cls"), MODELS)
def test_staff_with_every_model_permission_still_cannot_edit(cast, client_for, app, model, cls):
    user = cast.dispatcher
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label=app, content_type__model=model)
    )
    user = User.objects.get(pk=user.pk)
    client = client_for(user)
    assert client.get(reverse(f"admin:{app}_{model}_add")).status_code == 403
    obj = cls.objects.first()
    page = client.get(reverse(f"admin:{app}_{model}_change", args=[obj.pk]))
    assert page.status_code == 200  # view only
    assert page.context["has_change_permission"] is False
    assert (
        client.post(
            reverse(f"admin:{app}_{model}_delete", args=[obj.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert cls.objects.filter(pk=obj.pk).exists()


def test_department_tree_and_user_roles_columns(superuser, cast, client_for):
    client = client_for(superuser)
    body = client.get(reverse("admin:accounts_department_changelist")).content.decode()
    assert "网络保障" in body and "└" in body
    users = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "部门负责人" in users  # the lead's role label


def test_sla_policy_change_by_superuser_saves_a_new_version(superuser, client_for):
    policy = SlaPolicy.objects.get(kind="promise", urgency="general")
    url = reverse("admin:sla_slapolicy_change", args=[policy.pk])
    data = {
        "kind": "promise",
        "urgency": "general",
        "target_minutes": 2880 + 60,
        "remind_percent": 50,
        "chase_percent": 80,
        "escalate_every_percent": 50,
        "calendar": "",
    }
    response = client_for(superuser).post(url, data)
    assert response.status_code == 302
    policy.refresh_from_db()
    # The version clocks point to is kept as it was, retired; the edit is the new version.
    assert (policy.target_minutes, policy.active) == (2880, False)
    new = SlaPolicy.objects.get(lineage=policy.lineage, active=True)
    assert (new.target_minutes, new.version) == (2940, 2)
