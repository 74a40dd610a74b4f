"""Answering: drafts saved as they go, conditions, evidence, submission and its lock,
review rounds, scores and attested RTO/RPO."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from tests.evidence_factories import EvidenceBuilder, pdf_bytes
from tests.questionnaires_factories import QuestionnaireBuilder
from vendor_portal.evidence.models import EvidenceVersion
from vendor_portal.questionnaires import services
from vendor_portal.questionnaires.models import Answer, Assignment, AssignmentRound
from vendor_portal.vendors.models import VendorService


@pytest.fixture
def qb(session) -> QuestionnaireBuilder:
    return QuestionnaireBuilder(session)


@pytest.fixture
def evidence(session, app) -> EvidenceBuilder:
    return EvidenceBuilder(session, app)


def ids(assignment: Assignment) -> dict[str, int]:
    return {q.code: q.id for q in assignment.version.questions}


def form(assignment: Assignment, answers: dict[str, object], **extra) -> dict[str, object]:
    """The answer form as the browser posts it: every question present, answers by name."""
    q = ids(assignment)
    data: dict[str, object] = {f"q-{qid}-present": "1" for qid in q.values()}
    for code, value in answers.items():
        if isinstance(value, dict):
            for key, hours in value.items():
                data[f"q-{q[code]}-{key}"] = str(hours)
        else:
            data[f"q-{q[code]}"] = value
    data.update(extra)
    return data


@pytest.fixture
def setup(build, qb, session):
    vendor = build.vendor(name="Nimbus")
    web = VendorService(vendor=vendor, name="Web hosting", hosting_countries=[], cloud_regions=[])
    db_service = VendorService(
        vendor=vendor, name="Managed database", hosting_countries=[], cloud_regions=[]
    )
    session.add_all([web, db_service])
    session.commit()
    assignment = qb.assignment(vendor, qb.version("Continuity"))
    return vendor, assignment, web, db_service


def current_answers(session, assignment) -> dict:
    session.expire_all()
    fresh = session.get(Assignment, assignment.id)
    return services.answers_by_code(fresh.round())


def test_drafts_are_saved_and_come_back_in_a_later_sitting(client, auth, session, setup):
    vendor, assignment, web, db_service = setup
    user = auth.login_as("vendor_user", vendor=vendor)
    response = client.post(
        f"/questionnaires/assignments/{assignment.id}/answer",
        data=form(
            assignment,
            {"PLAN": "yes", "RTO": {web.id: "4", db_service.id: ""}, "NOTES": "More later"},
            action="save",
        ),
    )
    assert response.status_code == 302
    assert current_answers(session, assignment) == {
        "PLAN": "yes",
        "RTO": {str(web.id): 4.0},
        "NOTES": "More later",
    }
    session.expire_all()
    assert session.get(Assignment, assignment.id).status == "in_progress"
    # A second sitting, after signing out: everything is there, the follow-up question shows.
    auth.logout()
    auth.login(user.email)
    page = client.get(f"/questionnaires/assignments/{assignment.id}/answer").text
    q = ids(assignment)
    assert f'name="q-{q["PLAN"]}" id="q{q["PLAN"]}-yes" value="yes" checked' in page
    assert 'value="4"' in page and "More later" in page
    assert f'id="q{q["TEST"]}" data-code="TEST"' in page  # shown: PLAN is yes
    assert "3 of 5 answered (60%)" in page


def test_autosave_saves_drafts_and_reports_progress(client, auth, session, setup):
    vendor, assignment, _web, _ = setup
    auth.login_as("vendor_user", vendor=vendor)
    response = client.post(
        f"/questionnaires/assignments/{assignment.id}/autosave",
        data=form(assignment, {"PLAN": "no", "NOTES": "typing…"}),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True and body["errors"] == {}
    assert body["progress"] == {"percent": 50, "answered": 2, "visible": 4}
    assert "TEST" not in body["visible"]
    bad = client.post(
        f"/questionnaires/assignments/{assignment.id}/autosave",
        data=form(assignment, {"PLAN": "perhaps", "NOTES": "still saved"}),
    )
    assert bad.get_json()["errors"] == {"PLAN": "Choose one of: Yes, No."}
    assert current_answers(session, assignment) == {"PLAN": "no", "NOTES": "still saved"}


def test_autosave_writes_nothing_when_nothing_changed(client, auth, session, setup):
    from vendor_portal.audit.models import AuditEntry

    vendor, assignment, _, _ = setup
    auth.login_as("vendor_user", vendor=vendor)
    data = form(assignment, {"PLAN": "no"})
    client.post(f"/questionnaires/assignments/{assignment.id}/autosave", data=data)
    before = session.scalar(select(func.count(AuditEntry.id)))
    client.post(f"/questionnaires/assignments/{assignment.id}/autosave", data=data)
    assert session.scalar(select(func.count(AuditEntry.id))) == before


def test_submit_needs_every_visible_required_answer_then_locks(client, auth, session, setup):
    vendor, assignment, web, db_service = setup
    auth.login_as("vendor_user", vendor=vendor)
    url = f"/questionnaires/assignments/{assignment.id}/answer"
    blocked = client.post(
        url, data=form(assignment, {"PLAN": "yes", "RTO": {web.id: 4}}, action="submit")
    )
    assert blocked.status_code == 422
    assert "2 question(s) still need an answer" in blocked.text
    assert "This question needs an answer." in blocked.text  # TEST, shown because PLAN is yes
    assert "Give the hours for every service listed." in blocked.text
    assert current_answers(session, assignment)["PLAN"] == "yes"  # the draft was kept
    done = client.post(
        url,
        data=form(
            assignment,
            {"PLAN": "yes", "TEST": "yearly", "RTO": {web.id: 4, db_service.id: 30}},
            action="submit",
        ),
    )
    assert done.status_code == 302 and done.headers["Location"] == "/questionnaires/mine"
    session.expire_all()
    fresh = session.get(Assignment, assignment.id)
    assert fresh.status == "submitted" and fresh.submitted_at is not None
    assert fresh.score == 100.0
    assert fresh.red_flag_count == 1  # the database's RTO of 30 h is above the 24 h limit
    locked = client.post(
        url, data=form(assignment, {"PLAN": "no"}, action="save"), follow_redirects=True
    )
    assert "answers can no longer be changed" in locked.text
    autosave = client.post(
        f"/questionnaires/assignments/{assignment.id}/autosave",
        data=form(assignment, {"PLAN": "no"}),
    )
    assert autosave.status_code == 409
    assert current_answers(session, assignment)["PLAN"] == "yes"


def test_evidence_is_attached_from_the_library_or_uploaded_on_the_question(
    client, auth, session, setup, evidence, build, app
):
    vendor, assignment, _, _ = setup
    mine = evidence.version(vendor, "bcp", title="Our BCP")
    theirs = evidence.version(build.vendor(), "bcp", title="Their BCP")
    auth.login_as("vendor_user", vendor=vendor)
    page = client.get(f"/questionnaires/assignments/{assignment.id}/answer").text
    assert "Our BCP v1" in page and "Their BCP" not in page
    url = f"/questionnaires/assignments/{assignment.id}/answer"
    refused = client.post(url, data=form(assignment, {"DOC": [str(theirs.id)]}, action="save"))
    assert refused.status_code == 422
    assert "Choose evidence from your own evidence library." in refused.text
    client.post(url, data=form(assignment, {"DOC": [str(mine.id)]}, action="save"))
    assert current_answers(session, assignment)["DOC"] == [mine.id]
    q = ids(assignment)
    upload = client.post(
        url,
        data={
            **form(assignment, {"DOC": [str(mine.id)], "NOTES": "with the upload"}),
            f"upload-{q['DOC']}": (io.BytesIO(pdf_bytes("attached")), "bcp-2026.pdf"),
            "anchor": f"q{q['DOC']}",
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    assert upload.headers["Location"].endswith(f"#q{q['DOC']}")
    new = session.scalar(select(EvidenceVersion).where(EvidenceVersion.filename == "bcp-2026.pdf"))
    assert new.vendor_id == vendor.id and new.item.evidence_type == "bcp"
    answers = current_answers(session, assignment)
    assert answers["DOC"] == sorted([mine.id, new.id]) and answers["NOTES"] == "with the upload"
    rejected = client.post(
        url,
        data={
            **form(assignment, {}),
            f"upload-{q['DOC']}": (io.BytesIO(b"MZ\x90\x00" + bytes(64)), "bcp.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert rejected.status_code == 422 and "is not an allowed file type" in rejected.text


def test_reviewer_returns_with_comments_vendor_fixes_and_reviewer_accepts(
    client, auth, session, setup, build
):
    vendor, assignment, web, db_service = setup
    vendor_user = build.user(role="vendor_user", vendor=vendor)
    reviewer = build.user(role="vendor_manager")
    answers = {"PLAN": "yes", "TEST": "rarely", "RTO": {web.id: 4, db_service.id: 48}}
    auth.login(vendor_user.email)
    client.post(
        f"/questionnaires/assignments/{assignment.id}/answer",
        data=form(assignment, answers, action="submit"),
    )
    auth.logout()
    auth.login(reviewer.email)
    review_page = client.get(f"/questionnaires/assignments/{assignment.id}").text
    assert 'data-testid="review-form"' in review_page
    assert "48 h is above the limit of 24 h" in review_page  # red flag listed
    q = ids(assignment)
    empty = client.post(
        f"/questionnaires/assignments/{assignment.id}/review",
        data={"decision": "return", "note": ""},
        follow_redirects=True,
    )
    assert "Say what needs to change" in empty.text
    client.post(
        f"/questionnaires/assignments/{assignment.id}/review",
        data={
            "decision": "return",
            "note": "Nearly there.",
            f"comment-{q['RTO']}": "48 h for the database is too long; what can you commit to?",
        },
    )
    session.expire_all()
    fresh = session.get(Assignment, assignment.id)
    assert (fresh.status, fresh.current_round) == ("returned", 2)
    auth.logout()
    auth.login(vendor_user.email)
    page = client.get(f"/questionnaires/assignments/{assignment.id}/answer").text
    assert "Returned for changes" in page and "Nearly there." in page
    assert "48 h for the database is too long" in page
    assert 'value="48"' in page  # the previous answers are the starting point
    assert "Answer: Continuity" in client.get("/").text
    fixed = {**answers, "RTO": {web.id: 4, db_service.id: 8}}
    client.post(
        f"/questionnaires/assignments/{assignment.id}/answer",
        data=form(assignment, fixed, action="submit"),
    )
    auth.logout()
    auth.login(reviewer.email)
    accepted = client.post(
        f"/questionnaires/assignments/{assignment.id}/review",
        data={"decision": "accept", "note": "Thanks."},
        follow_redirects=True,
    )
    assert "Accepted with a score of" in accepted.text
    assert "Managed database: RTO 8 h" in accepted.text
    session.expire_all()
    fresh = session.get(Assignment, assignment.id)
    assert fresh.status == "accepted" and fresh.red_flag_count == 0
    rounds = session.scalars(
        select(AssignmentRound).where(AssignmentRound.assignment_id == assignment.id)
    ).all()
    assert [(r.number, r.decision) for r in rounds] == [(1, "returned"), (2, "accepted")]
    # Every round is kept as it was.
    first = services.answers_by_code(rounds[0])
    assert first["RTO"] == {str(web.id): 4.0, str(db_service.id): 48.0}
    assert [c.body for c in rounds[0].comments] == [
        "48 h for the database is too long; what can you commit to?"
    ]
    round1 = client.get(f"/questionnaires/assignments/{assignment.id}/rounds/1").text
    assert "48 h" in round1 and "too long" in round1
    # Attested objectives are facts about the vendor's services now.
    service = session.get(VendorService, db_service.id)
    assert service.attested_rto_hours == 8.0
    assert service.attestation_source == f"questionnaire {assignment.id}"
    assert session.get(VendorService, web.id).attested_rto_hours == 4.0
    # Score: PLAN (weight 2) yes = 1, TEST (weight 1) rarely = 0.25 -> 75.
    assert fresh.score == 75.0
    gate = services.latest_accepted_questionnaire(session, vendor.id)
    assert gate.assignment_id == assignment.id and gate.score == 75.0
    assert gate.submitted_at == rounds[1].submitted_at and gate.red_flags == ()
    assert gate.template_name == "Continuity"


def test_only_submitted_questionnaires_can_be_reviewed(client, auth, session, setup):
    _, assignment, _, _ = setup
    auth.login_as("vendor_manager")
    response = client.post(
        f"/questionnaires/assignments/{assignment.id}/review",
        data={"decision": "accept"},
        follow_redirects=True,
    )
    assert "Only a submitted questionnaire can be reviewed" in response.text
    session.expire_all()
    assert session.get(Assignment, assignment.id).status == "sent"


def test_a_reassessment_offers_the_previous_answers_as_the_starting_point(
    client, auth, session, setup, qb, build, evidence
):
    vendor, first, web, db_service = setup
    plan = evidence.version(vendor, "bcp")
    reviewer = build.user(role="vendor_manager")
    qb.accepted(
        first,
        {
            "PLAN": "yes",
            "TEST": "yearly",
            "DOC": [plan.id],
            "RTO": {str(web.id): 2, str(db_service.id): 6},
            "NOTES": "Last year",
        },
        reviewer,
    )
    again = qb.assignment(vendor, first.version)
    assert again.previous_id == first.id
    auth.login_as("vendor_user", vendor=vendor)
    page = client.get(f"/questionnaires/assignments/{again.id}/answer").text
    assert "Start from the 5 answers you gave last time" in page
    response = client.post(f"/questionnaires/assignments/{again.id}/prefill", follow_redirects=True)
    assert "5 answer(s) copied from your previous assessment" in response.text
    assert current_answers(session, again) == {
        "PLAN": "yes",
        "TEST": "yearly",
        "DOC": [plan.id],
        "RTO": {str(web.id): 2.0, str(db_service.id): 6.0},
        "NOTES": "Last year",
    }
    assert "Start from the" not in client.get(f"/questionnaires/assignments/{again.id}/answer").text
    assert session.scalar(select(func.count(Answer.id))) == 10  # both rounds kept


def test_scores_and_red_flags_are_not_shown_to_vendors(client, auth, setup, qb):
    vendor, assignment, web, db_service = setup
    qb.submitted(assignment, {"PLAN": "no", "RTO": {str(web.id): 1, str(db_service.id): 1}})
    auth.login_as("vendor_user", vendor=vendor)
    round1 = client.get(f"/questionnaires/assignments/{assignment.id}/rounds/1").text
    assert 'data-testid="scorecard"' not in round1 and "red flag" not in round1
    page = client.get(f"/questionnaires/assignments/{assignment.id}/answer").text
    assert "locked while we review" in page
