"""The register's page and the home page count exactly what they list, at every edge."""

import re

from sqlalchemy import func, select

from tests.findings_factories import days_ago, finding
from vendor_portal.audit.services import Actor, acting_as
from vendor_portal.findings import services
from vendor_portal.findings.models import Finding


def edge_findings(session, build, asker):
    """Open, closed and accepted findings around today, a risk request by `asker` and one by
    someone else, on two vendors."""
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    colleague = build.user(role="vendor_manager")
    found = {
        "due_today": finding(session, acme, title="Due today", due_date=days_ago(0)),
        "a_day_late": finding(session, acme, title="A day late", due_date=days_ago(1)),
        "late_in_remediation": finding(
            session,
            beta,
            title="Late in remediation",
            status="in_remediation",
            due_date=days_ago(30),
        ),
        "late_to_verify": finding(
            session,
            beta,
            title="Late to verify",
            status="ready_for_verification",
            due_date=days_ago(3),
        ),
        "closed_late": finding(
            session, acme, title="Closed late", status="closed", due_date=days_ago(9)
        ),
        "accepted_late": finding(
            session, beta, title="Accepted late", status="risk_accepted", due_date=days_ago(9)
        ),
        "tomorrow": finding(session, beta, title="Tomorrow", due_date=days_ago(-1)),
    }
    found["mine_asked"] = finding(session, acme, title="I asked")
    found["colleague_asked"] = finding(session, beta, title="Colleague asked")
    found["closed_asked"] = finding(session, beta, title="Closed after asking", status="closed")
    found["mine_asked"].risk_requested_by_id = asker.id
    found["colleague_asked"].risk_requested_by_id = colleague.id
    found["closed_asked"].risk_requested_by_id = colleague.id
    session.commit()
    return acme, beta, found


def test_reviewer_counts_at_the_edges(app, build, session):
    asker = build.user(role="vendor_manager")
    _, _, found = edge_findings(session, build, asker)
    today = days_ago(0)
    counts = services.reviewer_counts(session, today, asker.id)
    assert counts.overdue == 3  # a day late, late in remediation, late to verify
    assert counts.overdue == services.count_overdue(session, today)
    assert counts.awaiting_verification == 1
    assert counts.risk_requests == 1  # the colleague's open request; not mine, not a closed one
    other = services.reviewer_counts(session, today, found["colleague_asked"].risk_requested_by_id)
    assert other.risk_requests == 1 and other.overdue == 3


def test_home_page_shows_the_counts(client, auth, build, session):
    manager = auth.login_as("vendor_manager")
    edge_findings(session, build, manager)
    home = client.get("/").text
    for title, count in (
        ("Overdue findings", 3),
        ("Verify remediated findings", 1),
        ("Approve or refuse risk acceptances", 1),
    ):
        card = home[home.index(title) :]
        assert re.search(r"rounded-pill[^>]*>(\d+)<", card).group(1) == str(count), title


def titles(page: str) -> list[str]:
    return re.findall(r'<a href="/findings/\d+">([^<]+)</a>', page)


def test_list_pages_in_due_date_order_and_counts_what_it_filters(client, auth, build, session):
    manager = auth.login_as("vendor_manager")
    acme, _, _ = edge_findings(session, build, manager)
    everything = list(session.scalars(select(Finding).order_by(Finding.due_date, Finding.id)))
    listed = []
    for number in (1, 2, 3, 4):
        page = client.get(f"/findings/?per_page=3&page={number}").text
        assert f"of {len(everything)}</div>" in page
        listed += titles(page)
    assert listed == [f.title for f in everything]

    overdue = client.get("/findings/?overdue=1&per_page=2").text
    assert "1–2 of 3</div>" in overdue
    assert titles(overdue) == ["Late in remediation", "Late to verify"]
    by_vendor = client.get(f"/findings/?vendor={acme.id}&sort=-due_date").text
    assert "of 4</div>" in by_vendor
    assert titles(by_vendor) == ["I asked", "Due today", "A day late", "Closed late"]
    searched = client.get("/findings/?q=LATE&sort=vendor").text
    assert "of 5</div>" in searched
    assert titles(searched) == [
        "A day late",
        "Closed late",
        "Late in remediation",
        "Late to verify",
        "Accepted late",
    ]


def test_a_vendor_user_counts_and_pages_its_own_findings_only(client, auth, build, session):
    manager = build.user(role="vendor_manager")
    acme, _, _ = edge_findings(session, build, manager)
    auth.login_as("vendor_user", vendor=acme)
    page = client.get("/findings/").text
    assert "of 4</div>" in page
    assert titles(page) == ["Closed late", "A day late", "Due today", "I asked"]
    assert "1</strong> open finding past its due date" in page


def test_a_change_is_counted_on_the_next_request(client, auth, build, session):
    manager = auth.login_as("vendor_manager")
    _, _, found = edge_findings(session, build, manager)
    item = session.get(Finding, found["tomorrow"].id)
    item.due_date = days_ago(2)
    session.commit()
    assert "4</strong> open findings past their due date" in client.get("/findings/").text


def test_kept_totals_follow_every_change(app, client, auth, build, session):
    """The register's totals are kept between requests while nothing changed (no new audit
    entry): a finding opened or closed through the app shows on the next request."""
    from vendor_portal.extensions import db

    manager = auth.login_as("vendor_manager")
    acme, _, found = edge_findings(session, build, manager)
    open_now = session.scalar(
        select(func.count()).select_from(Finding).where(Finding.status == "open")
    )
    assert f"of {open_now}</div>" in client.get("/findings/?status=open").text
    assert f"of {open_now}</div>" in client.get("/findings/?status=open").text  # kept

    with app.app_context():  # the app's own session, whose writes are audited
        finding(db.session, acme, title="Opened since")
    assert f"of {open_now + 1}</div>" in client.get("/findings/?status=open").text

    with app.app_context(), acting_as(Actor(None, "test")):
        db.session.get(Finding, found["due_today"].id).status = "closed"
        db.session.get(Finding, found["a_day_late"].id).status = "closed"
        db.session.commit()
    page = client.get("/findings/?status=open").text
    assert f"of {open_now - 1}</div>" in page and "Due today" not in page
    assert "2</strong> open findings past their due date" in page

    # What the rows show of vendors and owners follows them too.
    with app.app_context(), acting_as(Actor(None, "test")):
        from vendor_portal.vendors.models import Vendor

        db.session.get(Vendor, acme.id).name = "Acme Renamed"
        db.session.commit()
    page = client.get("/findings/?status=open").text
    assert "Acme Renamed" in page and '<td class="small">Acme</td>' not in page


def test_kept_overdue_total_moves_with_the_date(client, auth, build, session, monkeypatch):
    from datetime import timedelta

    from vendor_portal.findings import routes

    manager = auth.login_as("vendor_manager")
    edge_findings(session, build, manager)
    page = client.get("/findings/").text
    assert "3</strong> open findings past their due date" in page
    assert "1 d late" in page and "2 d late" not in page
    tomorrow = days_ago(-1)
    monkeypatch.setattr(routes, "_today", lambda: tomorrow)
    # Due today and a day late join the late ones (the one due tomorrow is not late yet).
    page = client.get("/findings/").text
    assert "4</strong> open findings past their due date" in page
    assert "2 d late" in page  # the row of the one a day late, a day later
    monkeypatch.setattr(routes, "_today", lambda: tomorrow + timedelta(days=1))
    assert "5</strong> open findings past their due date" in client.get("/findings/").text
