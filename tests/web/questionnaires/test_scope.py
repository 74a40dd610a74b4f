"""A vendor user gets 404 for another vendor's assignments and answers, on every route."""

from __future__ import annotations

import pytest

from tests.questionnaires_factories import QuestionnaireBuilder
from vendor_portal.questionnaires import services


@pytest.fixture
def two_vendors(build, session):
    qb = QuestionnaireBuilder(session)
    version = qb.version("Shared questionnaire")
    mine, theirs = build.vendor(name="Mine Ltd"), build.vendor(name="Theirs Ltd")
    own = qb.assignment(mine, version)
    other = qb.assignment(theirs, version)
    qb.answered(other, {"NOTES": "Their secret answer"})
    return mine, own, other


def test_another_vendors_assignment_is_404_on_every_page(client, auth, two_vendors, session):
    mine, own, other = two_vendors
    auth.login_as("vendor_user", vendor=mine)
    for url in (
        f"/questionnaires/assignments/{other.id}",
        f"/questionnaires/assignments/{other.id}/answer",
        f"/questionnaires/assignments/{other.id}/rounds/1",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Their secret answer" not in response.text
    for url in (
        f"/questionnaires/assignments/{other.id}/answer",
        f"/questionnaires/assignments/{other.id}/autosave",
        f"/questionnaires/assignments/{other.id}/prefill",
    ):
        assert client.post(url, data={"csrf_token": "x"}).status_code == 404, url
    session.expire_all()
    assert services.answers_by_code(other.round()) == {"NOTES": "Their secret answer"}
    # The own assignment works, and lists show nothing of the other vendor.
    assert client.get(f"/questionnaires/assignments/{own.id}/answer").status_code == 200
    mine_page = client.get("/questionnaires/mine").text
    assert f"/questionnaires/assignments/{own.id}/answer" in mine_page
    assert f"/questionnaires/assignments/{other.id}/" not in mine_page
    export = client.get("/questionnaires/mine?export=csv").text
    assert "Mine Ltd" in export and "Theirs Ltd" not in export


def test_internal_pages_are_forbidden_to_vendor_users(client, auth, two_vendors):
    mine, own, _ = two_vendors
    auth.login_as("vendor_user", vendor=mine)
    assert client.get("/questionnaires/").status_code == 403
    assert client.get("/questionnaires/templates").status_code == 403
    for url in (
        f"/questionnaires/assignments/{own.id}/review",
        f"/questionnaires/assignments/{own.id}/cancel",
        f"/questionnaires/assignments/{own.id}/invite",
        "/questionnaires/reassess",
    ):
        assert client.post(url).status_code == 403, url


def test_internal_users_see_but_do_not_answer(client, auth, two_vendors):
    _, own, _ = two_vendors
    auth.login_as("auditor")
    assert client.get(f"/questionnaires/assignments/{own.id}").status_code == 200
    page = client.get(f"/questionnaires/assignments/{own.id}/answer")
    assert page.status_code == 200 and 'name="action"' not in page.text
    assert client.post(f"/questionnaires/assignments/{own.id}/answer").status_code == 403
    assert client.post(f"/questionnaires/assignments/{own.id}/autosave").status_code == 403
