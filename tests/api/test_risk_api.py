"""越级风险 in the API: the score on list and detail, `?risk_min=` and `?ordering=risk`."""

from tests.factories import report
from workorders.models import RiskRule


def test_risk_score_filter_and_ordering(cast, api, settings):
    settings.RISK_ALERT_THRESHOLD = 101
    plain = report(cast, phone="13900000021")
    claimed = report(cast, phone="13900000022", claimed_escalation=True)
    both = report(cast, phone="13900000023", claimed_escalation=True, is_elderly=True)
    client = api("dispatcher")
    rows = client.get("/api/v1/tickets/", {"ordering": "risk"}).json()["results"]
    assert [r["number"] for r in rows] == [both.number, claimed.number, plain.number]
    assert rows[0]["risk_score"] > rows[1]["risk_score"] > rows[2]["risk_score"] == 0
    threshold = rows[1]["risk_score"]
    rows = client.get("/api/v1/tickets/", {"risk_min": threshold}).json()["results"]
    assert {r["number"] for r in rows} == {both.number, claimed.number}
    detail = client.get(f"/api/v1/tickets/{both.number}/").json()
    expected = sum(
        RiskRule.objects.filter(code__in=["claimed_escalation", "elderly_vip"]).values_list(
            "points", flat=True
        )
    )
    assert detail["risk_score"] == expected > threshold
    assert detail["risk_alerted_at"] is None
    assert client.get("/api/v1/tickets/", {"risk_min": "x"}).status_code == 400
