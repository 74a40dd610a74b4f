import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from vendor_portal.vendors.models import Vendor, VendorContact

VALID = {"name": "Acme Cloud", "country": "IE", "tier": "critical", "status": "active", "lei": ""}


def test_vendor_manager_creates_a_vendor(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post("/vendors/new", data={**VALID, "lei": "5299 00t8bm49aursdo55"})
    assert response.status_code == 302
    vendor = session.scalar(select(Vendor).where(Vendor.name == "Acme Cloud"))
    assert vendor.lei == "529900T8BM49AURSDO55"
    assert response.headers["Location"] == f"/vendors/{vendor.id}"
    page = client.get(response.headers["Location"])
    assert "Acme Cloud" in page.text and "Ireland" in page.text


def test_invalid_vendor_is_explained_next_to_each_field_and_not_stored(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post(
        "/vendors/new",
        data={"name": "", "country": "XX", "tier": "huge", "lei": "529900T8BM49AURSDO56"},
    )
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert "check digits" in response.text
    assert "Not a valid choice." in response.text
    assert session.scalar(select(func.count(Vendor.id))) == 0


def test_duplicate_lei_is_refused(client, auth, build, session):
    existing = build.vendor(name="First")
    auth.login_as("vendor_manager")
    response = client.post("/vendors/new", data={**VALID, "lei": existing.lei})
    assert "already belongs to First" in response.text
    assert session.scalar(select(func.count(Vendor.id))) == 1


def test_edit_updates_and_is_audited(client, auth, build, session):
    from vendor_portal.audit.models import AuditEntry

    vendor = build.vendor(name="Old name", tier="low")
    auth.login_as("vendor_manager")
    response = client.post(
        f"/vendors/{vendor.id}/edit",
        data={**VALID, "name": "New name", "tier": "high", "lei": vendor.lei},
    )
    assert response.status_code == 302
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == "vendor", AuditEntry.action == "update")
    ).one()
    assert entry.before["name"] == "Old name" and entry.after["name"] == "New name"
    assert entry.before["tier"] == "low" and entry.after["tier"] == "high"


def test_list_searches_filters_sorts_and_paginates(client, auth, build):
    for n in range(30):
        build.vendor(name=f"Supplier {n:02d}", tier="critical" if n % 3 == 0 else "low", lei=None)
    build.vendor(name="Zeta Payments", country="FR", tier="high", lei=None)
    auth.login_as("procurement")
    page = client.get("/vendors/?per_page=10&sort=-name")
    assert "Zeta Payments" in page.text
    assert "1–10 of 31" in page.text
    second = client.get("/vendors/?per_page=10&sort=-name&page=2")
    assert "Zeta Payments" not in second.text
    critical = client.get("/vendors/?tier=critical&per_page=100")
    assert critical.text.count('class="badge tier-badge tier-critical"') == 10
    search = client.get("/vendors/?q=zeta")
    assert "Zeta Payments" in search.text and "Supplier 00" not in search.text
    france = client.get("/vendors/?country=FR")
    assert "Zeta Payments" in france.text and "Supplier 01" not in france.text


def test_bad_list_parameters_get_a_message_not_an_error(client, auth):
    auth.login_as("vendor_manager")
    for query in ("sort=password", "page=0", "per_page=abc", "export=pdf"):
        response = client.get(f"/vendors/?{query}", follow_redirects=True)
        assert response.status_code == 200
        assert 'class="alert alert-warning' in response.text


def test_export_csv_and_excel_match_the_filtered_list(client, auth, build):
    build.vendor(name="=cmd|' /C calc'!A0", tier="critical", lei=None)
    build.vendor(name="Beta", tier="low", lei=None)
    auth.login_as("auditor")
    csv = client.get("/vendors/?tier=critical&export=csv")
    assert csv.headers["Content-Disposition"].startswith('attachment; filename="vendors-')
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("ID,Name,Tier")
    assert len(lines) == 2
    assert "'=cmd" in lines[1]  # a formula is neutralised
    xlsx = client.get("/vendors/?export=xlsx&sort=name")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("ID", "Name", "Tier")
    assert [r[1] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "Beta"]


def test_archive_hides_and_restore_brings_back(client, auth, build):
    vendor = build.vendor(name="Retired Ltd")
    auth.login_as("vendor_manager")
    client.post(f"/vendors/{vendor.id}/archive", follow_redirects=True)
    assert "Retired Ltd" not in client.get("/vendors/").text
    assert "Retired Ltd" in client.get("/vendors/?archived=1").text
    client.post(f"/vendors/{vendor.id}/restore", follow_redirects=True)
    assert "Retired Ltd" in client.get("/vendors/").text


def test_contacts_are_added_validated_and_removed(client, auth, build, session):
    vendor = build.vendor()
    auth.login_as("vendor_manager")
    bad = client.post(
        f"/vendors/{vendor.id}/contacts", data={"name": "Kim", "email": "not-an-email"}
    )
    assert bad.status_code == 422
    assert "Invalid email address." in bad.text
    ok = client.post(
        f"/vendors/{vendor.id}/contacts",
        data={"name": "Kim Lee", "email": "Kim@Vendor.example.com", "is_continuity_lead": "y"},
    )
    assert ok.status_code == 302
    contact = session.scalar(select(VendorContact).where(VendorContact.vendor_id == vendor.id))
    assert contact.email == "kim@vendor.example.com" and contact.is_continuity_lead
    other = build.vendor()
    assert client.post(f"/vendors/{other.id}/contacts/{contact.id}/delete").status_code == 404
    client.post(f"/vendors/{vendor.id}/contacts/{contact.id}/delete")
    assert session.scalar(select(func.count(VendorContact.id))) == 0


def test_read_only_roles_cannot_change_vendors(client, auth, build):
    vendor = build.vendor()
    for role in ("auditor", "procurement"):
        auth.login_as(role)
        assert client.get(f"/vendors/{vendor.id}").status_code == 200
        assert client.get("/vendors/new").status_code == 403
        assert client.post(f"/vendors/{vendor.id}/edit", data=VALID).status_code == 403
        assert client.post(f"/vendors/{vendor.id}/archive").status_code == 403
        auth.logout()


def test_vendor_user_sees_only_its_own_vendor(client, auth, build):
    mine = build.vendor(name="Mine Ltd")
    theirs = build.vendor(name="Theirs Ltd", notes="internal note")
    auth.login_as("vendor_user", vendor=mine)
    own = client.get(f"/vendors/{mine.id}")
    assert own.status_code == 200 and "Mine Ltd" in own.text
    other = client.get(f"/vendors/{theirs.id}")
    assert other.status_code == 404
    assert "Theirs Ltd" not in other.text
    assert client.get("/vendors/").status_code == 403
    assert client.get("/vendors/?export=csv").status_code == 403
    assert client.get(f"/vendors/{theirs.id}/edit").status_code == 403
    assert client.get("/vendors/999999").status_code == 404
