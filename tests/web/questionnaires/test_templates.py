"""Templates built in the UI, versioned; question banks imported and exported."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from tests.questionnaires_factories import QuestionnaireBuilder
from vendor_portal.questionnaires import bank
from vendor_portal.questionnaires.default_template import DEFAULT_TEMPLATE
from vendor_portal.questionnaires.models import (
    QuestionnaireTemplate,
    TemplateQuestion,
    TemplateSection,
    TemplateVersion,
)


@pytest.fixture
def qb(session) -> QuestionnaireBuilder:
    return QuestionnaireBuilder(session)


def question_data(section_id: int, **fields) -> dict[str, str]:
    data = {
        "section_id": str(section_id),
        "code": "Q1",
        "text": "A question?",
        "help_text": "",
        "qtype": "yes_no",
        "weight": "1",
        "choices_text": "",
        "show_if_code": "",
        "show_if_values": "",
        "hours_metric": "",
        "max_value": "",
        "evidence_type": "",
    }
    data.update({k: str(v) for k, v in fields.items()})
    return data


def test_manager_builds_a_template_in_the_ui_and_publishes_it(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post(
        "/questionnaires/templates/new", data={"name": "Cloud resilience", "description": "x"}
    )
    assert response.status_code == 302
    version = session.scalar(select(TemplateVersion))
    assert (version.number, version.status) == (1, "draft")
    client.post(f"/questionnaires/versions/{version.id}/sections", data={"title": "Backups"})
    section = session.scalar(select(TemplateSection))
    base = f"/questionnaires/versions/{version.id}/questions/new"
    created = [
        client.post(
            base,
            data=question_data(
                section.id,
                code="IMM",
                text="Immutable backups?",
                required="y",
                critical="y",
                weight="3",
                help_text="Write-once copies.",
            ),
        ),
        client.post(
            base,
            data=question_data(
                section.id,
                code="FREQ",
                text="How often do you restore?",
                qtype="single_choice",
                choices_text="Monthly = 1\nYearly = 0.4\nNever = 0\nNot applicable = na",
                show_if_code="IMM",
                show_if_values="Yes",
            ),
        ),
        client.post(
            base,
            data=question_data(
                section.id,
                code="PROT",
                text="Protections?",
                qtype="multiple_choice",
                choices_text="Encrypted = 1\nAir gap = 2",
            ),
        ),
        client.post(
            base,
            data=question_data(
                section.id,
                code="RTO",
                text="RTO per service?",
                qtype="hours",
                hours_metric="rto",
                max_value="8",
                weight="0",
            ),
        ),
        client.post(
            base,
            data=question_data(
                section.id,
                code="EVID",
                text="Last restore test report",
                qtype="evidence",
                evidence_type="dr_test_report",
                weight="0",
            ),
        ),
        client.post(
            base, data=question_data(section.id, code="N", text="Days kept?", qtype="number")
        ),
        client.post(
            base, data=question_data(section.id, code="D", text="Last test?", qtype="date")
        ),
        client.post(base, data=question_data(section.id, code="T", text="Notes", qtype="text")),
    ]
    assert [r.status_code for r in created] == [302] * 8, [
        r.text for r in created if r.status_code != 302
    ]
    spec = session.get(TemplateVersion, version.id).spec()
    by_code = spec.by_code()
    assert by_code["IMM"].required and by_code["IMM"].critical and by_code["IMM"].weight == 3
    assert by_code["IMM"].help_text == "Write-once copies."
    assert [(c.label, c.score) for c in by_code["FREQ"].choices] == [
        ("Monthly", 1.0),
        ("Yearly", 0.4),
        ("Never", 0.0),
        ("Not applicable", None),
    ]
    assert by_code["FREQ"].show_if.question == "IMM" and by_code["FREQ"].show_if.values == ("yes",)
    assert (by_code["RTO"].hours_metric, by_code["RTO"].max_value) == ("rto", 8.0)
    assert by_code["EVID"].evidence_type == "dr_test_report"
    page = client.get(f"/questionnaires/versions/{version.id}").text
    assert "Shown only if IMM is yes" in page and "Attests the RTO of each vendor service" in page
    published = client.post(f"/questionnaires/versions/{version.id}/publish", follow_redirects=True)
    assert "published. It will never change" in published.text
    session.expire_all()
    assert session.get(TemplateVersion, version.id).status == "published"


def test_builder_explains_bad_questions(client, auth, session, qb):
    version = qb.version(publish=False)
    section = version.sections[0]
    auth.login_as("vendor_manager")
    base = f"/questionnaires/versions/{version.id}/questions/new"
    later = client.post(
        base, data=question_data(section.id, code="X", show_if_code="NOTES", show_if_values="y")
    )
    assert later.status_code == 422
    # Only earlier yes/no and choice questions are offered as conditions.
    assert "Not a valid choice." in later.text
    duplicate = client.post(base, data=question_data(section.id, code="PLAN"))
    assert duplicate.status_code == 422 and "This code is used twice" in duplicate.text
    bad_scores = client.post(
        base,
        data=question_data(
            section.id, code="Y", qtype="single_choice", choices_text="A = lots\nB = 0"
        ),
    )
    assert (
        bad_scores.status_code == 422
        and "The score of &#39;A&#39; is &#39;lots&#39;" in bad_scores.text
    )
    one_choice = client.post(
        base,
        data=question_data(section.id, code="Z", qtype="single_choice", choices_text="Only = 1"),
    )
    assert "A choice question needs at least two choices." in one_choice.text
    hours = client.post(base, data=question_data(section.id, code="H", qtype="hours"))
    assert "Say whether the hours are an RTO or an RPO." in hours.text
    wrong_answer = client.post(
        base, data=question_data(section.id, code="W", show_if_code="PLAN", show_if_values="Maybe")
    )
    assert "The condition names answers PLAN does not offer: maybe" in wrong_answer.text
    assert session.scalar(select(func.count(TemplateQuestion.id))) == 5


def test_an_empty_draft_cannot_be_published(client, auth, session):
    auth.login_as("vendor_manager")
    client.post("/questionnaires/templates/new", data={"name": "Empty"})
    version = session.scalar(select(TemplateVersion))
    page = client.get(f"/questionnaires/versions/{version.id}").text
    assert "The template has no questions." in page
    response = client.post(f"/questionnaires/versions/{version.id}/publish", follow_redirects=True)
    assert "cannot be published yet" in response.text
    session.expire_all()
    assert session.get(TemplateVersion, version.id).status == "draft"


def test_a_published_version_never_changes_editing_makes_a_new_draft(
    client, auth, session, qb, build
):
    v1 = qb.version("Versioned")
    assignment = qb.assignment(build.vendor(), v1)
    question = v1.questions[0]
    auth.login_as("vendor_manager")
    refused = client.post(
        f"/questionnaires/questions/{question.id}/edit",
        data=question_data(question.section_id, code="PLAN", text="Changed?"),
        follow_redirects=True,
    )
    assert "A published version never changes" in refused.text
    assert (
        client.post(
            f"/questionnaires/questions/{question.id}/delete", follow_redirects=True
        ).status_code
        == 200
    )
    response = client.post(f"/questionnaires/versions/{v1.id}/new-draft")
    session.expire_all()
    v2 = session.scalar(select(TemplateVersion).where(TemplateVersion.number == 2))
    assert response.headers["Location"] == f"/questionnaires/versions/{v2.id}"
    assert v2.status == "draft" and v2.spec().questions() == v1.spec().questions()
    q2 = next(q for q in v2.questions if q.code == "PLAN")
    client.post(
        f"/questionnaires/questions/{q2.id}/edit",
        data=question_data(
            q2.section_id, code="PLAN", text="Do you keep a tested plan?", required="y"
        ),
    )
    # Asking for another draft while one exists opens that one instead of a third version.
    again = client.post(f"/questionnaires/versions/{v1.id}/new-draft")
    assert again.headers["Location"] == f"/questionnaires/versions/{v2.id}"
    client.post(f"/questionnaires/versions/{v2.id}/publish")
    session.expire_all()
    assert session.get(TemplateQuestion, question.id).text == "Do you have a continuity plan?"
    assert next(q for q in v2.questions if q.code == "PLAN").text == "Do you keep a tested plan?"
    assert session.get(type(assignment), assignment.id).version_id == v1.id


def test_sections_and_questions_move_and_delete_in_a_draft(client, auth, session, qb):
    version = qb.version(publish=False)
    plans, recovery = version.sections
    auth.login_as("vendor_manager")
    client.post(f"/questionnaires/sections/{recovery.id}/move?to=up")
    session.expire_all()
    assert [s.title for s in session.get(TemplateVersion, version.id).sections] == [
        "Recovery",
        "Plans",
    ]
    notes = next(q for q in version.questions if q.code == "NOTES")
    client.post(f"/questionnaires/questions/{notes.id}/move?to=up")
    session.expire_all()
    assert [q.code for q in session.get(TemplateSection, recovery.id).questions] == ["NOTES", "RTO"]
    blocked = client.post(
        f"/questionnaires/questions/{version.questions[0].id}/delete", follow_redirects=True
    )
    assert "TEST depend(s) on PLAN" in blocked.text
    non_empty = client.post(f"/questionnaires/sections/{plans.id}/delete", follow_redirects=True)
    assert "still has 3 question(s)" in non_empty.text


def test_read_only_roles_see_templates_but_cannot_change_them(client, auth, qb):
    version = qb.version()
    auth.login_as("procurement")
    assert client.get(f"/questionnaires/versions/{version.id}").status_code == 200
    assert client.get("/questionnaires/templates/new").status_code == 403
    assert client.post(f"/questionnaires/versions/{version.id}/new-draft").status_code == 403
    auth.logout()
    auth.login_as("vendor_user")
    assert client.get("/questionnaires/templates").status_code == 403
    assert client.get(f"/questionnaires/versions/{version.id}").status_code == 403


def test_default_template_is_installed_by_button_and_by_cli(client, auth, session, runner):
    auth.login_as("admin")
    page = client.get("/questionnaires/templates").text
    assert 'Install "Business continuity due diligence"' in page
    response = client.post("/questionnaires/templates/install-default", follow_redirects=True)
    assert "Business continuity due diligence v1 installed and published" in response.text
    result = runner.invoke(args=["questionnaires", "install-default"])
    assert "already installed" in result.output
    assert session.scalar(select(func.count(QuestionnaireTemplate.id))) == 1
    version = session.scalar(select(TemplateVersion))
    assert version.status == "published"
    assert version.spec() == DEFAULT_TEMPLATE


def upload_bank(client, data: bytes, filename: str, **fields):
    return client.post(
        "/questionnaires/templates/import",
        data={"file": (io.BytesIO(data), filename), "template_id": "", **fields},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_and_import_round_trip_through_the_pages(client, auth, session, qb, fmt):
    version = qb.default_version()
    auth.login_as("vendor_manager")
    exported = client.get(f"/questionnaires/versions/{version.id}/export?format={fmt}")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    response = upload_bank(client, exported.data, f"bank.{fmt}", name="Copy of BC")
    assert response.status_code == 302, response.text
    copy = session.scalar(
        select(TemplateVersion)
        .join(TemplateVersion.template)
        .where(QuestionnaireTemplate.name == "Copy of BC")
    )
    assert copy.status == "draft"
    assert copy.spec().sections == version.spec().sections


def test_a_bad_bank_imports_nothing_and_names_each_row(client, auth, session):
    auth.login_as("vendor_manager")
    data = (
        b"section,code,question,type,choices\n"
        b"S,A,Fine?,yes_no,\n"
        b"S,B,What?,essay,\n"
        b"S,C,Which?,single_choice,X=1 | Y=much\n"
    )
    response = upload_bank(client, data, "bank.csv")
    assert response.status_code == 422
    assert "Nothing was imported." in response.text
    assert "Row 3, column &#39;type&#39;: &#39;essay&#39; is not a question type" in response.text
    assert (
        "Row 4, column &#39;choices&#39;: the score of &#39;Y&#39; is &#39;much&#39;"
        in response.text
    )
    assert session.scalar(select(func.count(QuestionnaireTemplate.id))) == 0


def test_a_bank_can_be_imported_as_a_new_version_of_a_template(client, auth, session, qb):
    version = qb.version("Existing")
    auth.login_as("vendor_manager")
    data = bank.export_csv(version.spec())
    response = client.post(
        "/questionnaires/templates/import",
        data={"file": (io.BytesIO(data), "v2.csv"), "template_id": str(version.template_id)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    session.expire_all()
    numbers = [v.number for v in session.get(QuestionnaireTemplate, version.template_id).versions]
    assert numbers == [1, 2]


def test_cisa_template_imports_through_the_page(client, auth, session, shared_data):
    path = shared_data / "questionnaires" / "cisa_vendor_scrm_questions.csv"
    auth.login_as("vendor_manager")
    response = upload_bank(client, path.read_bytes(), path.name, name="CISA vendor SCRM")
    assert response.status_code == 302, response.text
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert "Imported 260 questions in 26 sections" in page.text
    version = session.scalar(select(TemplateVersion))
    assert client.post(f"/questionnaires/versions/{version.id}/publish").status_code == 302
    session.expire_all()
    assert session.get(TemplateVersion, version.id).status == "published"
