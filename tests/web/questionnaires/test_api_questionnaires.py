"""/api/v1/questionnaires/assignments: a vendor's own assignments, answers and submission."""

from __future__ import annotations

import pytest

from tests.questionnaires_factories import QuestionnaireBuilder


@pytest.fixture
def api(app, build):
    class Api:
        def __init__(self) -> None:
            self.client = app.test_client()
            self.headers: dict[str, str] = {}

        def as_role(self, role: str, vendor=None):
            user = build.user(role=role, vendor=vendor)
            self.headers = {"Authorization": f"Bearer {build.token(user)}"}
            return user

        def get(self, path, **kw):
            return self.client.get(path, headers=self.headers, **kw)

        def post(self, path, **kw):
            return self.client.post(path, headers=self.headers, **kw)

    return Api()


@pytest.fixture
def setup(build, session):
    qb = QuestionnaireBuilder(session)
    version = qb.version("API questionnaire")
    mine, theirs = build.vendor(), build.vendor()
    return mine, qb.assignment(mine, version), qb.assignment(theirs, version)


def test_vendor_lists_reads_answers_and_submits_through_the_api(api, setup):
    mine, own, _other = setup
    api.as_role("vendor_user", vendor=mine)
    listing = api.get("/api/v1/questionnaires/assignments").get_json()
    assert [a["id"] for a in listing["items"]] == [own.id]
    assert "score" not in listing["items"][0]
    detail = api.get(f"/api/v1/questionnaires/assignments/{own.id}").get_json()
    codes = [q["code"] for s in detail["sections"] for q in s["questions"]]
    assert codes == ["PLAN", "TEST", "DOC", "RTO", "NOTES"]
    assert detail["missing_required"] == ["PLAN", "RTO"]
    path = f"/api/v1/questionnaires/assignments/{own.id}"
    bad = api.post(f"{path}/answers", json={"answers": {"PLAN": "perhaps", "NOTES": "kept"}})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {"PLAN": "Choose one of: Yes, No."}
    blocked = api.post(f"{path}/submit")
    assert blocked.status_code == 422
    assert set(blocked.get_json()["error"]["fields"]) == {"PLAN", "RTO"}
    saved = api.post(
        f"{path}/answers", json={"answers": {"PLAN": "no", "RTO": {"general": 6}}}
    ).get_json()
    assert saved["answers"] == {"PLAN": "no", "RTO": {"general": 6.0}, "NOTES": "kept"}
    submitted = api.post(f"{path}/submit")
    assert submitted.status_code == 200 and submitted.get_json()["status"] == "submitted"
    locked = api.post(f"{path}/answers", json={"answers": {"PLAN": "yes"}})
    assert locked.status_code == 409 and locked.get_json()["error"]["code"] == "locked"


def test_another_vendors_assignment_is_404_in_the_api(api, setup):
    mine, _, other = setup
    api.as_role("vendor_user", vendor=mine)
    path = f"/api/v1/questionnaires/assignments/{other.id}"
    assert api.get(path).status_code == 404
    assert api.post(f"{path}/answers", json={"answers": {"PLAN": "yes"}}).status_code == 404
    assert api.post(f"{path}/submit").status_code == 404
    query = api.get(f"/api/v1/questionnaires/assignments?vendor_id={other.vendor_id}").get_json()
    assert query["items"] == []


def test_internal_users_read_scores_but_do_not_answer(api, setup):
    _, own, _ = setup
    api.as_role("vendor_manager")
    listing = api.get("/api/v1/questionnaires/assignments?status=sent").get_json()
    assert listing["total"] == 2 and "score" in listing["items"][0]
    response = api.post(
        f"/api/v1/questionnaires/assignments/{own.id}/answers", json={"answers": {}}
    )
    assert response.status_code == 403
    bad = api.get("/api/v1/questionnaires/assignments?status=lost")
    assert bad.status_code == 400
