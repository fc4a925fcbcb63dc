"""The project-wide error pages: in the user's language, never Django's bare defaults."""

import pytest


@pytest.mark.django_db
def test_unknown_page_answers_404_in_chinese_by_default(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


@pytest.mark.django_db
def test_unknown_page_answers_404_in_english_when_asked(client):
    response = client.get("/no-such-page/", headers={"accept-language": "en"})

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.django_db
def test_csrf_failure_page_explains_how_to_recover(client):
    csrf_client = type(client)(enforce_csrf_checks=True)

    response = csrf_client.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403
    assert "页面已过期" in response.content.decode()
