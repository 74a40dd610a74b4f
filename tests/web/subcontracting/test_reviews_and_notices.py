import io
from datetime import timedelta

from sqlalchemy import select

from tests.subcontracting_factories import mandatory_obligations
from vendor_portal.db import utcnow
from vendor_portal.findings.models import Finding
from vendor_portal.subcontracting.models import (
    FlowDownItem,
    FlowDownReview,
    SubcontractingNotice,
    SubcontractorDeclaration,
)


def _chain(session, build, tier="critical"):
    vendor = build.vendor(tier=tier)
    sub = build.vendor(name="Sub Co", direct=False)
    deeper = build.vendor(name="Deeper Co", direct=False)
    top = SubcontractorDeclaration(vendor_id=vendor.id, subcontractor_id=sub.id, rank=2)
    session.add(top)
    session.flush()
    session.add(
        SubcontractorDeclaration(
            vendor_id=vendor.id, subcontractor_id=deeper.id, parent_id=top.id, rank=3
        )
    )
    session.commit()
    return vendor


def test_reviewer_completes_a_review_with_one_gap_which_becomes_a_finding(
    client, auth, build, session
):
    vendor = _chain(session, build)
    auth.login_as("vendor_manager")
    started = client.post(f"/subcontracting/vendors/{vendor.id}/reviews")
    review = session.scalar(select(FlowDownReview))
    assert started.headers["Location"].endswith(f"/subcontracting/reviews/{review.id}")
    obligations = mandatory_obligations(session, "critical")
    items = session.scalars(select(FlowDownItem).where(FlowDownItem.review_id == review.id)).all()
    assert len(items) == 2 * len(obligations)
    gap = items[0]
    for item in items:
        data = {"outcome": "yes" if item.id != gap.id else "no", "comment": "clause 14.2"}
        if item.id == items[1].id:
            data["evidence"] = (
                io.BytesIO(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n"),
                "clause.pdf",
            )
        response = client.post(
            f"/subcontracting/reviews/{review.id}/items/{item.id}",
            data=data,
            content_type="multipart/form-data",
        )
        assert response.status_code == 302
    page = client.get(f"/subcontracting/reviews/{review.id}")
    assert 'data-testid="gap-count">1<' in page.text
    assert page.text.count('name="outcome"') == len(items) and "Sign off the review" in page.text
    with client.get(
        f"/subcontracting/reviews/{review.id}/items/{items[1].id}/evidence"
    ) as evidence:
        assert evidence.status_code == 200
        assert evidence.headers["Content-Disposition"].startswith("attachment")
        assert evidence.data.startswith(b"%PDF")
    client.post(f"/subcontracting/reviews/{review.id}/sign-off")
    session.expire_all()
    [finding] = session.scalars(select(Finding)).all()
    assert finding.source == "flow_down_review" and finding.vendor_id == vendor.id
    assert finding.severity == "high" and "Sub Co" in finding.title
    assert session.get(FlowDownReview, review.id).next_due_date is not None
    # The dashboard counts the chain as reviewed, one of two entries fully flowed down.
    dashboard = client.get("/subcontracting/")
    assert "100%" in dashboard.text and "50%" in dashboard.text
    # The gap shows in the supply-chain map, on the subcontractor's node.
    from vendor_portal.graph.models import GraphNode

    client.get("/graph/")  # the map is rebuilt from the records when read
    sub_id = session.scalar(
        select(SubcontractorDeclaration.subcontractor_id).where(SubcontractorDeclaration.rank == 2)
    )
    node = session.scalar(select(GraphNode).where(GraphNode.vendor_id == sub_id))
    node_page = client.get(f"/graph/nodes/{node.id}")
    assert (
        'data-testid="flow-down-gaps"' in node_page.text and gap.obligation.title in node_page.text
    )
    # Signed off: no more changes, and signing again changes nothing.
    again = client.post(f"/subcontracting/reviews/{review.id}/sign-off", follow_redirects=True)
    assert "already signed off" in again.text
    assert len(session.scalars(select(Finding)).all()) == 1


def test_reviews_need_a_chain_and_a_reviewed_tier(client, auth, build):
    low = build.vendor(tier="low")
    empty = build.vendor(tier="critical")
    auth.login_as("vendor_manager")
    assert (
        "cover critical and high-tier"
        in client.post(f"/subcontracting/vendors/{low.id}/reviews", follow_redirects=True).text
    )
    assert (
        "no subcontractors to review"
        in client.post(f"/subcontracting/vendors/{empty.id}/reviews", follow_redirects=True).text
    )


def test_reviews_are_internal(client, auth, build, session):
    vendor = _chain(session, build)
    auth.login_as("vendor_manager")
    client.post(f"/subcontracting/vendors/{vendor.id}/reviews")
    review = session.scalar(select(FlowDownReview))
    auth.logout()
    auth.login_as("vendor_user", vendor=vendor)
    assert client.get(f"/subcontracting/reviews/{review.id}").status_code == 403
    assert client.post(f"/subcontracting/reviews/{review.id}/sign-off").status_code == 403
    auth.logout()
    auth.login_as("auditor")
    read_only = client.get(f"/subcontracting/reviews/{review.id}")
    assert read_only.status_code == 200
    assert 'name="outcome"' not in read_only.text and "Sign off the review" not in read_only.text
    assert client.post(f"/subcontracting/reviews/{review.id}/sign-off").status_code == 403


def test_notice_is_decided_within_the_period_and_silence_is_recorded(
    client, auth, build, session, runner
):
    vendor = build.vendor(tier="high")
    auth.login_as("vendor_user", vendor=vendor)
    sent = client.post(
        f"/subcontracting/vendors/{vendor.id}/notices/new",
        data={
            "kind": "new",
            "subcontractor_name": "New DC Ltd",
            "subcontractor_country": "IE",
            "declaration_id": "",
            "parent_id": "",
        },
    )
    assert sent.status_code == 302
    notice = session.scalar(select(SubcontractingNotice))
    assert (notice.deadline - notice.submitted_at).days == 30
    assert (
        client.post(
            f"/subcontracting/notices/{notice.id}", data={"decision": "approve"}
        ).status_code
        == 403
    )
    auth.logout()
    auth.login_as("vendor_manager")
    client.post(
        f"/subcontracting/notices/{notice.id}",
        data={"decision": "object", "comment": "Not in the EU"},
    )
    session.expire_all()
    assert session.get(SubcontractingNotice, notice.id).status == "objected"
    # A second notice nobody answers lapses; the vendor sees it.
    late = SubcontractingNotice(
        vendor_id=vendor.id,
        kind="new",
        subcontractor_name="Quiet Ltd",
        submitted_at=utcnow() - timedelta(days=40),
        deadline=utcnow() - timedelta(days=10),
    )
    session.add(late)
    session.commit()
    assert (
        "no decision within the notice period"
        in client.get(f"/subcontracting/notices/{late.id}").text
    )
    refused = client.post(
        f"/subcontracting/notices/{late.id}", data={"decision": "approve"}, follow_redirects=True
    )
    assert "no longer open" in refused.text
    result = runner.invoke(args=["subcontracting", "record-lapsed"])
    assert "1 notice" in result.output
    session.expire_all()
    assert session.get(SubcontractingNotice, late.id).status == "lapsed"


def test_notices_of_other_vendors_are_404(client, auth, build, session):
    theirs = build.vendor()
    notice = SubcontractingNotice(
        vendor_id=theirs.id,
        kind="new",
        subcontractor_name="X",
        deadline=utcnow() + timedelta(days=3),
    )
    session.add(notice)
    session.commit()
    auth.login_as("vendor_user", vendor=build.vendor())
    assert client.get(f"/subcontracting/notices/{notice.id}").status_code == 404
