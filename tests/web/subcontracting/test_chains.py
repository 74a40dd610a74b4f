from sqlalchemy import func, select

from vendor_portal.subcontracting.models import SubcontractorDeclaration
from vendor_portal.vendors.models import Vendor, VendorService


def _declare(client, vendor_id, **data):
    form = {"name": "", "country": "DE", "lei": "", "parent_id": "", "function": ""}
    form.update(data)
    return client.post(f"/subcontracting/vendors/{vendor_id}", data=form)


def test_vendor_declares_a_two_level_chain(client, auth, build, session):
    vendor = build.vendor(name="Acme Cloud", tier="critical")
    service = VendorService(
        vendor_id=vendor.id, name="Hosting", hosting_countries=[], cloud_regions=[]
    )
    session.add(service)
    session.commit()
    auth.login_as("vendor_user", vendor=vendor)
    first = _declare(
        client,
        vendor.id,
        name="Colo Nord AB",
        country="SE",
        service_ids=str(service.id),
        function="Data centre space",
        data_storage_countries="se",
    )
    assert first.status_code == 302, first.text
    top = session.scalar(select(SubcontractorDeclaration))
    assert (top.rank, top.data_storage_countries, [s.id for s in top.services]) == (
        2,
        ["SE"],
        [service.id],
    )
    second = _declare(
        client, vendor.id, name="PowerGrid Sverige", country="SE", parent_id=str(top.id)
    )
    assert second.status_code == 302
    page = client.get(f"/subcontracting/vendors/{vendor.id}")
    assert "Colo Nord AB" in page.text and "PowerGrid Sverige" in page.text
    ranks = sorted(session.scalars(select(SubcontractorDeclaration.rank)))
    assert ranks == [2, 3]
    company = session.scalar(select(Vendor).where(Vendor.name == "Colo Nord AB"))
    assert company.direct is False and company.tier == "critical"


def test_one_company_used_by_many_vendors_is_one_record(client, auth, build, session):
    first = build.vendor(tier="high")
    second = build.vendor(tier="high")
    auth.login_as("vendor_manager")
    _declare(client, first.id, name="Shared Power Ltd", country="GB")
    _declare(client, second.id, name="SHARED POWER LIMITED", country="GB")
    companies = session.scalars(select(Vendor).where(Vendor.direct.is_(False))).all()
    assert [c.name for c in companies] == ["Shared Power Ltd"]
    dashboard = client.get("/subcontracting/")
    assert "Shared Power Ltd" in dashboard.text and "2 vendors" in dashboard.text


def test_loops_unknown_parents_and_bad_input_are_explained(client, auth, build, session):
    vendor = build.vendor(tier="high")
    other = build.vendor()
    auth.login_as("vendor_manager")
    _declare(client, vendor.id, name="Alpha", country="DE")
    alpha = session.scalar(select(SubcontractorDeclaration))
    loop = _declare(client, vendor.id, name="Alpha", country="DE", parent_id=str(alpha.id))
    assert loop.status_code == 422 and "already above in the chain" in loop.text
    itself = _declare(client, vendor.id, name=vendor.name, country=vendor.country, lei=vendor.lei)
    assert "cannot be its own subcontractor" in itself.text
    _declare(client, other.id, name="Beta", country="DE")
    beta = session.scalar(
        select(SubcontractorDeclaration).where(SubcontractorDeclaration.vendor_id == other.id)
    )
    foreign_parent = _declare(client, vendor.id, name="Gamma", country="DE", parent_id=str(beta.id))
    assert foreign_parent.status_code == 422 and "Not a valid choice" in foreign_parent.text
    bad = _declare(client, vendor.id, name="", country="XX", data_storage_countries="QQ")
    assert "This field is required." in bad.text and "Not ISO 3166" in bad.text
    assert session.scalar(select(func.count(SubcontractorDeclaration.id))) == 2


def test_removing_an_entry_removes_what_is_below_it(client, auth, build, session):
    vendor = build.vendor(tier="high")
    auth.login_as("vendor_manager")
    _declare(client, vendor.id, name="Top", country="DE")
    top = session.scalar(select(SubcontractorDeclaration))
    _declare(client, vendor.id, name="Below", country="DE", parent_id=str(top.id))
    client.post(f"/subcontracting/declarations/{top.id}/remove")
    session.expire_all()
    assert (
        session.scalar(select(func.count()).where(SubcontractorDeclaration.removed_at.is_(None)))
        == 0
    )


def test_vendor_users_only_reach_their_own_chain(client, auth, build, session):
    mine = build.vendor()
    theirs = build.vendor(name="Theirs Ltd")
    auth.login_as("vendor_manager")
    _declare(client, theirs.id, name="Secret Sub", country="DE")
    auth.logout()
    theirs_entry = session.scalar(select(SubcontractorDeclaration))
    auth.login_as("vendor_user", vendor=mine)
    assert client.get(f"/subcontracting/vendors/{theirs.id}").status_code == 404
    assert _declare(client, theirs.id, name="X", country="DE").status_code == 404
    assert client.post(f"/subcontracting/declarations/{theirs_entry.id}/remove").status_code == 404
    assert client.get(f"/subcontracting/vendors/{theirs.id}/notices/new").status_code == 404
    assert client.get("/subcontracting/export").status_code == 403
    assert (
        client.get("/subcontracting/")
        .headers["Location"]
        .endswith(f"/subcontracting/vendors/{mine.id}")
    )
    assert "Secret Sub" not in client.get(f"/subcontracting/vendors/{mine.id}").text


def test_export_lists_every_chain(client, auth, build):
    vendor = build.vendor(name="Head Co", tier="critical")
    auth.login_as("vendor_manager")
    _declare(client, vendor.id, name="Sub One", country="FR", function="=HYPERLINK(1)")
    csv = client.get("/subcontracting/export?format=csv")
    assert csv.status_code == 200
    header, row = csv.text.strip().splitlines()
    assert header.startswith("Vendor,Vendor tier,Rank,Subcontractor")
    assert row.startswith("Head Co,critical,2,Sub One") and "'=HYPERLINK" in row


def test_duplicates_are_merged(client, auth, build, session):
    keep = build.vendor(name="Nordic Power AB", country="SE", direct=False, lei=None)
    dupe = build.vendor(name="Nordic Power", country="SE", direct=False, lei=None)
    head = build.vendor(tier="high")
    session.add(SubcontractorDeclaration(vendor_id=head.id, subcontractor_id=dupe.id, rank=2))
    session.commit()
    auth.login_as("vendor_manager")
    assert "Nordic Power AB" in client.get("/subcontracting/duplicates").text
    client.post("/subcontracting/duplicates", data={"keep_id": keep.id, "duplicate_id": dupe.id})
    session.expire_all()
    assert session.scalar(select(SubcontractorDeclaration.subcontractor_id)) == keep.id
    assert session.get(Vendor, dupe.id).archived_at is not None
    direct = build.vendor(name="Nordic Power Ltd", country="SE")  # same company key, direct
    refused = client.post(
        "/subcontracting/duplicates",
        data={"keep_id": keep.id, "duplicate_id": direct.id},
        follow_redirects=True,
    )
    assert "is a direct vendor" in refused.text
    session.expire_all()
    assert session.get(Vendor, direct.id).archived_at is None
