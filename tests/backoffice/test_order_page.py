"""The order page: buttons for exactly the allowed transitions, each going through its form
and service to an audit row and a message; forged posts refused; requests decided."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from backoffice.forms import TRANSITION_FORMS
from tests.backoffice.conftest import change_url, do_url, messages_of
from tests.factories import jpeg_bytes, ticket_in_state
from workorders import services
from workorders.models import AuditEntry, ExtensionRequest, RequestStatus, State

pytestmark = pytest.mark.django_db


def buttons(response) -> set[str]:
    return {t["name"] for t in response.context["bo_transitions"]}


@pytest.mark.parametrize(
    ("state", "role", "expected"),
    [
        (State.DISPATCHED, "lead", {"claim", "request_return", "assign", "correct_category"}),
        (State.DISPATCHED, "handler", {"claim"}),
        (
            State.DISPATCHED,
            "dispatcher",
            {"redispatch", "cancel", "mark_regulator", "chase", "correct_category"},
        ),
        (State.DISPATCHED, "supervisor", {"mark_regulator", "supervise", "chase"}),
        (State.DISPATCHED, "auditor", set()),
        (
            State.REPORTED,
            "dispatcher",
            {"dispatch", "cancel", "mark_regulator", "chase", "correct_category"},
        ),
        (State.REPORTED, "auditor", set()),
        (
            State.ACCEPTED,
            "lead",
            {"request_return", "suspend", "reply", "assign", "correct_category"},
        ),
        (State.ACCEPTED, "handler", {"reply"}),
        (State.ACCEPTED, "supervisor", {"suspend", "mark_regulator", "supervise", "chase"}),
        (
            State.REPLIED,
            "dispatcher",
            {"reject_reply", "close", "mark_regulator", "correct_category"},
        ),
        (State.REPLIED, "supervisor", {"redo", "mark_regulator", "supervise"}),
        (
            State.RETURN_REQUESTED,
            "dispatcher",
            {"rule_return", "mark_regulator", "chase", "correct_category"},
        ),
        (State.CLOSED, "supervisor", set()),
        (State.SUSPENDED, "handler", {"resume"}),
        (State.CLOSED, "dispatcher", {"correct_category"}),
        (State.CLOSED, "lead", set()),
    ],
)
def test_buttons_are_exactly_the_allowed_transitions(cast, client_for, state, role, expected):
    t = ticket_in_state(cast, state)
    response = client_for(cast.by_role(role)).get(change_url(t))
    assert response.status_code == 200
    assert buttons(response) == expected
    body = response.content.decode()
    for name in expected:
        assert f'data-transition="{name}"' in body


def _until() -> str:
    return timezone.localtime(timezone.now() + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")


# (transition, starting state, role, form data, resulting state)
CASES = [
    (
        "dispatch",
        State.REPORTED,
        "dispatcher",
        lambda c: {"department": c.network.pk},
        State.DISPATCHED,
    ),
    ("claim", State.DISPATCHED, "lead", lambda c: {"handler": c.handler.pk}, State.ACCEPTED),
    (
        "request_return",
        State.DISPATCHED,
        "lead",
        lambda c: {"reason": "属于业务管理"},
        State.RETURN_REQUESTED,
    ),
    (
        "rule_return",
        State.RETURN_REQUESTED,
        "dispatcher",
        lambda c: {"ruling": "uphold", "department": c.business.pk},
        State.DISPATCHED,
    ),
    (
        "redispatch",
        State.DISPATCHED,
        "dispatcher",
        lambda c: {"department": c.business.pk, "reason": "派错部门"},
        State.DISPATCHED,
    ),
    (
        "suspend",
        State.ACCEPTED,
        "lead",
        lambda c: {"reason": "appointment", "until": _until()},
        State.SUSPENDED,
    ),
    ("resume", State.SUSPENDED, "handler", lambda c: {}, State.ACCEPTED),
    (
        "reply",
        State.ACCEPTED,
        "handler",
        lambda c: {"result": "已更换光猫", "cause": "network", "resolved": "yes"},
        State.REPLIED,
    ),
    (
        "reject_reply",
        State.REPLIED,
        "dispatcher",
        lambda c: {"reason": "未联系客户"},
        State.ACCEPTED,
    ),
    (
        "close",
        State.REPLIED,
        "dispatcher",
        lambda c: {"outcome": "success", "resolved": "yes", "satisfaction": "satisfied"},
        State.CLOSED,
    ),
    ("redo", State.REPLIED, "supervisor", lambda c: {"reason": "客户仍不满意"}, State.ACCEPTED),
    ("cancel", State.REPORTED, "dispatcher", lambda c: {"reason": "重复报单"}, State.CANCELLED),
]


@pytest.mark.parametrize(
    ("name", "state", "role", "data", "target"), CASES, ids=[c[0] for c in CASES]
)
def test_each_transition_button_end_to_end(cast, client_for, name, state, role, data, target):
    t = ticket_in_state(cast, state)
    if name == "redo":
        services.ticket_propose_redo(ticket=t, by=cast.dispatcher, reason="客户不满意")
    client = client_for(cast.by_role(role))
    audit_before = AuditEntry.objects.filter(ticket=t, transition=name).count()

    page = client.get(change_url(t))
    assert do_url(t, name) in page.content.decode()  # the button
    form_page = client.get(do_url(t, name))  # the small form
    assert form_page.status_code == 200
    assert isinstance(form_page.context["form"], TRANSITION_FORMS[name])

    response = client.post(do_url(t, name), data(cast), follow=True)
    assert response.redirect_chain[-1][0] == change_url(t)
    t.refresh_from_db()
    assert t.state == target
    row = AuditEntry.objects.filter(ticket=t, transition=name).order_by("-id").first()
    assert AuditEntry.objects.filter(ticket=t, transition=name).count() == audit_before + 1
    assert row.actor == cast.by_role(role)
    assert row.target == target
    msgs = messages_of(response)
    assert any(m.startswith(t.number) for m in msgs), msgs


def test_assign_button_through_service(cast, client_for):
    t = ticket_in_state(cast, State.DISPATCHED)
    response = client_for(cast.lead).post(
        do_url(t, "assign"), {"handler": cast.handler.pk}, follow=True
    )
    t.refresh_from_db()
    assert t.handler == cast.handler
    assert AuditEntry.objects.filter(ticket=t, transition="assign").exists()
    assert any("已指派处理人" in m for m in messages_of(response))


@pytest.mark.parametrize(
    ("state", "role", "name", "data"),
    [
        (State.DISPATCHED, "handler", "request_return", {"reason": "不是我们的"}),
        (State.DISPATCHED, "auditor", "claim", {}),
        (State.DISPATCHED, "supervisor", "claim", {}),
        (State.DISPATCHED, "lead", "redispatch", {"department": None, "reason": "换部门"}),
        (
            State.ACCEPTED,
            "dispatcher",
            "reply",
            {"result": "伪造", "cause": "network", "resolved": "yes"},
        ),
        (
            State.REPLIED,
            "handler",
            "close",
            {"outcome": "success", "resolved": "yes", "satisfaction": "satisfied"},
        ),
    ],
)
def test_forged_post_is_refused_with_a_message_and_changes_nothing(
    cast, client_for, state, role, name, data
):
    t = ticket_in_state(cast, state)
    if data.get("department", 0) is None:
        data = {**data, "department": cast.business.pk}
    before = (t.state, t.version, AuditEntry.objects.filter(ticket=t).count())
    response = client_for(cast.by_role(role)).post(do_url(t, name), data, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == change_url(t)
    t.refresh_from_db()
    assert (t.state, t.version, AuditEntry.objects.filter(ticket=t).count()) == before
    msgs = messages_of(response)
    assert any(m.startswith(t.number) and "无权" in m for m in msgs), msgs


def test_get_of_a_transition_not_allowed_now_redirects_with_message(cast, client_for):
    t = ticket_in_state(cast, State.CLOSED)
    response = client_for(cast.dispatcher).get(do_url(t, "cancel"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(t)
    assert any("无权" in m for m in messages_of(response))


def test_wrong_state_post_is_a_message_not_a_500(cast, client_for):
    t = ticket_in_state(cast, State.CLOSED)
    response = client_for(cast.dispatcher).post(do_url(t, "cancel"), {"reason": "x"}, follow=True)
    assert response.status_code == 200
    t.refresh_from_db()
    assert t.state == State.CLOSED
    assert messages_of(response)


def test_bad_input_keeps_what_was_typed_and_shows_the_error(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    past = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(cast.lead).post(
        do_url(t, "suspend"), {"reason": "appointment", "until": past, "note": "客户周末在家"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "until" in form.errors
    assert "挂起截止时间必须晚于现在" in str(form.errors["until"])
    assert 'value="客户周末在家"' in response.content.decode()
    t.refresh_from_db()
    assert t.state == State.ACCEPTED


def test_workflow_fields_are_read_only_and_phone_masked_for_auditor(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED, phone="13812345678")
    body = client_for(cast.auditor).get(change_url(t)).content.decode()
    assert "138****5678" in body
    assert "13812345678" not in body
    assert 'name="state"' not in body
    lead_body = client_for(cast.lead).get(change_url(t)).content.decode()
    assert "13812345678" in lead_body


def test_order_page_shows_clocks_timeline_and_requests(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    services.ticket_request_extension(ticket=t, by=cast.handler, hours=8, reason="等待备件")
    response = client_for(cast.lead).get(change_url(t))
    body = response.content.decode()
    assert {c.kind for c in response.context["bo_clocks"]} >= {"dispatch", "sign_for", "promise"}
    assert "原始时限" in body and "有效时限" in body
    names = [i.get("name") for i in response.context["bo_timeline"] if i["type"] == "transition"]
    assert names[:2] == ["report", "dispatch"] or "dispatch" in names
    assert "等待备件" in body
    assert [e.can_decide for e in response.context["bo_extensions"]] == [True]
    handler_page = client_for(cast.handler).get(change_url(t))
    assert [e.can_decide for e in handler_page.context["bo_extensions"]] == [False]


def test_approve_and_refuse_extension_from_the_order_page(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    due_before = t.promise_due_at
    req = services.ticket_request_extension(ticket=t, by=cast.handler, hours=8, reason="等待备件")
    url = reverse("admin:workorders_ticket_decide", args=[t.pk, "extension", req.pk, "approve"])
    response = client_for(cast.lead).post(url, {"note": "同意"}, follow=True)
    req.refresh_from_db()
    t.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    assert t.promise_due_at == due_before + timedelta(hours=8)
    assert AuditEntry.objects.filter(ticket=t, transition="extend").exists()
    assert any("已批准延期申请" in m for m in messages_of(response))

    t2 = ticket_in_state(cast, State.ACCEPTED)
    req2 = services.ticket_request_extension(ticket=t2, by=cast.handler, hours=8, reason="再等等")
    url2 = reverse("admin:workorders_ticket_decide", args=[t2.pk, "extension", req2.pk, "refuse"])
    # The handler may not decide: refused with a message, nothing changes.
    denied = client_for(cast.handler).post(url2, follow=True)
    assert any("无权" in m for m in messages_of(denied))
    assert ExtensionRequest.objects.get(pk=req2.pk).status == RequestStatus.PENDING
    # A refusal says why (the services' rule): without a reason nothing changes.
    bare = client_for(cast.lead).post(url2, follow=True)
    assert any("驳回时请填写理由" in m for m in messages_of(bare))
    assert ExtensionRequest.objects.get(pk=req2.pk).status == RequestStatus.PENDING
    client_for(cast.lead).post(url2, {"note": "请先联系客户确认时间"})
    refused = ExtensionRequest.objects.get(pk=req2.pk)
    assert (refused.status, refused.decision_note) == (
        RequestStatus.REFUSED,
        "请先联系客户确认时间",
    )


def test_approve_and_refuse_suspension_request(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    until = timezone.now() + timedelta(hours=6)
    req = services.ticket_request_suspension(
        ticket=t, by=cast.handler, reason="unreachable", until=until
    )
    page = client_for(cast.lead).get(change_url(t))
    assert [s.can_decide for s in page.context["bo_suspensions"]] == [True]
    url = reverse("admin:workorders_ticket_decide", args=[t.pk, "suspension", req.pk, "approve"])
    client_for(cast.lead).post(url)
    t.refresh_from_db()
    assert t.state == State.SUSPENDED

    t2 = ticket_in_state(cast, State.ACCEPTED)
    req2 = services.ticket_request_suspension(
        ticket=t2, by=cast.handler, reason="unreachable", until=until
    )
    url2 = reverse("admin:workorders_ticket_decide", args=[t2.pk, "suspension", req2.pk, "refuse"])
    response = client_for(cast.lead).post(url2, {"note": "请先上门"}, follow=True)
    t2.refresh_from_db()
    assert t2.state == State.ACCEPTED
    assert any("已驳回挂起申请" in m for m in messages_of(response))


def test_attachment_thumbnails_are_served_only_within_scope(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    photo = SimpleUploadedFile("光猫.jpg", jpeg_bytes(), content_type="image/jpeg")
    (att,) = services.ticket_attach(ticket=t, by=cast.lead, files=[photo])
    url = reverse("admin:workorders_ticket_attachment", args=[t.pk, att.pk])
    thumb = reverse("admin:workorders_ticket_attachment_thumb", args=[t.pk, att.pk])
    page = client_for(cast.lead).get(change_url(t)).content.decode()
    # The strip shows the small thumbnail and links to the full photo.
    assert f'<a href="{url}"' in page and f'<img src="{thumb}"' in page
    ok = client_for(cast.lead).get(url)
    assert ok.status_code == 200
    assert ok["Content-Type"] == "image/jpeg"
    with att.file.open("rb") as stored:  # re-encoded without metadata when stored
        assert b"".join(ok.streaming_content) == stored.read()
    small = client_for(cast.lead).get(thumb)
    assert small.status_code == 200 and small["Content-Type"] == "image/jpeg"
    with att.thumbnail.open("rb") as stored:
        assert b"".join(small.streaming_content) == stored.read()
    assert client_for(cast.other_lead).get(url).status_code == 404
    assert client_for(cast.other_lead).get(thumb).status_code == 404


def test_supervisor_declines_a_proposed_redo_from_the_order_page(cast, client_for):
    t = ticket_in_state(cast, State.REPLIED)
    supervisor = client_for(cast.supervisor)
    # No proposal yet: confirming a redo is offered, declining one is not.
    assert buttons(supervisor.get(change_url(t))) == {"redo", "mark_regulator", "supervise"}
    services.ticket_visit(
        ticket=t,
        by=cast.dispatcher,
        outcome="success",
        resolved=False,
        satisfaction="unsatisfied",
        note="还是掉线",
    )
    assert buttons(supervisor.get(change_url(t))) == {
        "redo",
        "decline_redo",
        "mark_regulator",
        "supervise",
    }
    assert "decline_redo" not in buttons(client_for(cast.dispatcher).get(change_url(t)))

    response = supervisor.post(do_url(t, "decline_redo"), {"note": "已解释资费"}, follow=True)
    t.refresh_from_db()
    assert t.state == State.CLOSED
    assert AuditEntry.objects.filter(ticket=t, transition="decline_redo", actor=cast.supervisor)
    assert any("不予重办" in m for m in messages_of(response))
    # Declining again is refused with a message, not a 500.
    again = supervisor.post(do_url(t, "decline_redo"), {"note": ""}, follow=True)
    assert again.status_code == 200 and messages_of(again)


def test_reply_form_takes_the_public_reply_and_the_order_page_shows_it(cast, client_for):
    t = ticket_in_state(cast, State.ACCEPTED)
    client = client_for(cast.handler)
    form_page = client.get(do_url(t, "reply")).content.decode()
    assert 'name="public_reply"' in form_page
    data = {"result": "内部结果", "cause": "network", "resolved": "yes", "public_reply": "已修复"}
    client.post(do_url(t, "reply"), data)
    t.refresh_from_db()
    assert (t.state, t.reply_result, t.public_reply) == (State.REPLIED, "内部结果", "已修复")
    assert "已修复" in client_for(cast.dispatcher).get(change_url(t)).content.decode()


def test_regulator_mark_and_sign_off_buttons(cast, client_for):
    t = ticket_in_state(cast, State.REPLIED)
    dispatcher, supervisor = client_for(cast.dispatcher), client_for(cast.supervisor)
    dispatcher.post(do_url(t, "mark_regulator"), {"reason": "客户已向工信部申诉"}, follow=True)
    t.refresh_from_db()
    assert t.is_regulator
    assert "mark_regulator" not in buttons(dispatcher.get(change_url(t)))
    assert "regulator_signoff" not in buttons(dispatcher.get(change_url(t)))
    # Close is offered (the state allows it) but refused with a message until the sign-off.
    refused = dispatcher.post(
        do_url(t, "close"),
        {"outcome": "success", "resolved": "yes", "satisfaction": "satisfied"},
        follow=True,
    )
    assert any("督办签字" in m for m in messages_of(refused))
    t.refresh_from_db()
    assert t.state == State.REPLIED
    assert "regulator_signoff" in buttons(supervisor.get(change_url(t)))
    supervisor.post(do_url(t, "regulator_signoff"), {"note": "同意"}, follow=True)
    t.refresh_from_db()
    assert t.regulator_signed_off_by == cast.supervisor
    assert "regulator_signoff" not in buttons(supervisor.get(change_url(t)))
