from sqlalchemy import func, select

from vendor_portal.findings.models import Finding
from vendor_portal.subcontracting.models import SubcontractorDeclaration


def _headers(build, role, vendor=None):
    user = build.user(role=role, vendor=vendor)
    return {"Authorization": f"Bearer {build.token(user)}"}


def test_declare_a_chain_through_the_api(client, build, session):
    vendor = build.vendor(tier="critical")
    headers = _headers(build, "vendor_user", vendor)
    top = client.post(
        f"/api/v1/vendors/{vendor.id}/subcontractors",
        json={
            "name": "Colo Nord",
            "country": "se",
            "lei": None,
            "parent_id": None,
            "data_storage_countries": ["SE"],
        },
        headers=headers,
    )
    assert top.status_code == 201, top.text
    assert top.get_json()["rank"] == 2
    below = client.post(
        f"/api/v1/vendors/{vendor.id}/subcontractors",
        json={"name": "Grid Power", "country": "SE", "parent_id": top.get_json()["id"]},
        headers=headers,
    )
    assert below.get_json()["rank"] == 3
    listing = client.get(f"/api/v1/vendors/{vendor.id}/subcontractors", headers=headers).get_json()
    assert listing["vendor"]["rank"] == 1
    assert [(e["name"], e["rank"], e["parent_id"]) for e in listing["items"]] == [
        ("Colo Nord", 2, None),
        ("Grid Power", 3, top.get_json()["id"]),
    ]


def test_bad_declarations_name_the_field_and_store_nothing(client, build, session):
    vendor = build.vendor()
    headers = _headers(build, "vendor_manager")
    bad = client.post(
        f"/api/v1/vendors/{vendor.id}/subcontractors",
        json={"name": "", "country": "ZZ", "parent_id": "x", "extra": 1},
        headers=headers,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"name", "country", "parent_id", "extra"}
    unknown_parent = client.post(
        f"/api/v1/vendors/{vendor.id}/subcontractors",
        json={"name": "A", "country": "DE", "parent_id": 999},
        headers=headers,
    )
    assert (
        unknown_parent.status_code == 422
        and "999" in unknown_parent.get_json()["error"]["fields"]["parent_id"]
    )
    assert session.scalar(select(func.count(SubcontractorDeclaration.id))) == 0


def test_vendor_user_cannot_reach_another_vendors_chain(client, build):
    mine, theirs = build.vendor(), build.vendor()
    headers = _headers(build, "vendor_user", mine)
    assert (
        client.get(f"/api/v1/vendors/{theirs.id}/subcontractors", headers=headers).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/vendors/{theirs.id}/subcontractors",
            json={"name": "A", "country": "DE"},
            headers=headers,
        ).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/vendors/{mine.id}/flow-down-reviews", headers=headers).status_code
        == 403
    )


def test_review_through_the_api(client, build, session):
    vendor = build.vendor(tier="high")
    headers = _headers(build, "vendor_manager")
    client.post(
        f"/api/v1/vendors/{vendor.id}/subcontractors",
        json={"name": "Sub", "country": "DE"},
        headers=headers,
    )
    review = client.post(f"/api/v1/vendors/{vendor.id}/flow-down-reviews", headers=headers)
    assert review.status_code == 201
    body = review.get_json()
    again = client.post(f"/api/v1/vendors/{vendor.id}/flow-down-reviews", headers=headers)
    assert again.status_code == 409
    for item in body["items"]:
        outcome = "partly" if item is body["items"][0] else "yes"
        client.post(
            f"/api/v1/flow-down-reviews/{body['id']}/items/{item['id']}",
            json={"outcome": outcome},
            headers=headers,
        )
    bad = client.post(
        f"/api/v1/flow-down-reviews/{body['id']}/items/{body['items'][0]['id']}",
        json={"outcome": "maybe"},
        headers=headers,
    )
    assert bad.status_code == 422
    signed = client.post(
        f"/api/v1/flow-down-reviews/{body['id']}/sign-off", headers=headers
    ).get_json()
    assert signed["status"] == "signed_off"
    assert session.scalar(select(func.count(Finding.id))) == 0  # "partly" is not a gap
    assert (
        client.post(f"/api/v1/flow-down-reviews/{body['id']}/sign-off", headers=headers).status_code
        == 409
    )
