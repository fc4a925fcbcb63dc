"""回复模板: leads keep their own department's templates (superusers every department's); the
reply form and the API offer the templates that match the order, and one fills the reply."""

import pytest
from django.urls import reverse

from accounts.models import Department, User
from tests.backoffice.conftest import do_url
from tests.factories import CategoryFactory, ticket_in_state
from workorders.models import ReplyTemplate, State
from workorders.selectors import reply_templates_for

pytestmark = pytest.mark.django_db

ADD = reverse("admin:workorders_replytemplate_add")
LIST = reverse("admin:workorders_replytemplate_changelist")


def change(tpl) -> str:
    return reverse("admin:workorders_replytemplate_change", args=[tpl.pk])


def tpl(department, category=None, **kw) -> ReplyTemplate:
    kw.setdefault("title", f"模板{ReplyTemplate.objects.count() + 1}")
    kw.setdefault("cause", "network")
    kw.setdefault("result", "已处理")
    return ReplyTemplate.objects.create(department=department, category=category, **kw)


def form_data(department, **kw) -> dict:
    return {
        "department": department.pk,
        "category": "",
        "cause": "network",
        "title": "光猫更换",
        "result": "已上门更换光猫，恢复正常。",
        "public_reply": "您好，您的宽带已恢复。",
        "is_active": "on",
        "sort_order": 100,
        **kw,
    }


# --------------------------------------------------------------------------- rights


def test_lead_adds_a_template_for_their_department(cast, client_for):
    response = client_for(cast.lead).post(ADD, form_data(cast.network))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ReplyTemplate.objects.get().department == cast.network


def test_lead_cannot_add_for_another_department(cast, client_for):
    response = client_for(cast.lead).post(ADD, form_data(cast.business))
    assert response.status_code == 200
    assert "department" in response.context["adminform"].form.errors
    assert not ReplyTemplate.objects.exists()


def test_lead_sees_and_edits_only_their_departments_templates(cast, client_for):
    own, other = tpl(cast.network, title="网络模板"), tpl(cast.business, title="业务模板")
    c = client_for(cast.lead)
    listed = {t.pk for t in c.get(LIST).context["cl"].result_list}
    assert listed == {own.pk}
    assert c.get(change(other)).status_code == 302  # admin: "doesn't exist", back to the index
    response = c.post(change(own), form_data(cast.network, title="改过的"))
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.title == "改过的"
    other.refresh_from_db()
    assert other.title == "业务模板"


def test_lead_of_a_line_keeps_its_teams_templates(cast, client_for):
    team = Department.objects.create(
        name="网络一班", code="net_team1", kind="team", parent=cast.network
    )
    response = client_for(cast.lead).post(ADD, form_data(team))
    assert response.status_code == 302
    assert ReplyTemplate.objects.get().department == team


@pytest.mark.parametrize("role", ["handler", "dispatcher", "auditor", "supervisor"])
def test_other_roles_may_not_manage_templates(cast, client_for, role):
    tpl(cast.network)
    c = client_for(cast.by_role(role))
    assert c.get(LIST).status_code == 403
    assert c.get(ADD).status_code == 403
    assert c.post(ADD, form_data(cast.network)).status_code == 403
    assert ReplyTemplate.objects.count() == 1


def test_superuser_manages_every_departments_templates(cast, client_for):
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    other = tpl(cast.business)
    c = client_for(root)
    assert c.post(ADD, form_data(cast.channel)).status_code == 302
    assert c.post(change(other), form_data(cast.business, title="改过的")).status_code == 302
    assert set(ReplyTemplate.objects.values_list("department__code", flat=True)) == {
        "channel",
        "business",
    }


# --------------------------------------------------------------------------- matching


def test_matching_templates_of_an_order(cast):
    group = CategoryFactory(name="宽带", code="broadband")
    cast.category.parent = group
    cast.category.save()
    other_cat = CategoryFactory(name="携号转网", code="mnp")
    t = ticket_in_state(cast, State.ACCEPTED)  # in the network line
    team = Department.objects.create(
        name="网络一班", code="net_team1", kind="team", parent=cast.network
    )
    exact = tpl(cast.network, cast.category, title="精确")
    by_group = tpl(cast.network, group, title="分类组")
    anyone = tpl(cast.network, None, title="通用")
    tpl(cast.network, other_cat, title="别的分类")
    tpl(cast.business, cast.category, title="别的部门")
    tpl(team, cast.category, title="下属班组")  # a team's template is not the line's
    tpl(cast.network, cast.category, title="停用", is_active=False)
    staff = tpl(cast.network, cast.category, title="服务原因", cause="staff")
    assert list(reply_templates_for(t)) == [exact, staff, by_group, anyone]
    assert list(reply_templates_for(t, cause="staff")) == [staff]


def test_an_order_in_a_team_gets_the_lines_templates(cast):
    team = Department.objects.create(
        name="网络一班", code="net_team1", kind="team", parent=cast.network
    )
    line_tpl = tpl(cast.network, cast.category)
    team_tpl = tpl(team, cast.category)
    t = ticket_in_state(cast, State.DISPATCHED)
    t.department = team  # as if dispatched to the team
    assert set(reply_templates_for(t)) == {line_tpl, team_tpl}


# --------------------------------------------------------------------------- the reply form


def test_reply_form_offers_and_fills_a_template(cast, client_for):
    chosen = tpl(
        cast.network,
        cast.category,
        title="光猫更换",
        cause="customer",
        result="上门更换光猫。",
        public_reply="您好，已为您更换光猫。",
    )
    tpl(cast.business, cast.category, title="别的部门")
    t = ticket_in_state(cast, State.ACCEPTED)
    c = client_for(cast.handler)
    page = c.get(do_url(t, "reply"))
    assert [x["obj"] for x in page.context["templates"]] == [chosen]
    filled = c.get(page.context["templates"][0]["url"]).context["form"]
    assert filled["cause"].value() == "customer"
    assert filled["result"].value() == "上门更换光猫。"
    assert filled["public_reply"].value() == "您好，已为您更换光猫。"


def test_a_template_of_another_department_is_not_applied(cast, client_for):
    other = tpl(cast.business, cast.category, result="别的部门的文字")
    t = ticket_in_state(cast, State.ACCEPTED)
    form = client_for(cast.handler).get(f"{do_url(t, 'reply')}?template={other.pk}").context["form"]
    assert form["result"].value() in (None, "")
