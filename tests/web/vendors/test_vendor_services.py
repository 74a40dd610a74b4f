from sqlalchemy import func, select

from vendor_portal.vendors.models import VendorService


def test_vendor_manager_records_a_service_with_attested_objectives(client, auth, build, session):
    vendor = build.vendor()
    auth.login_as("vendor_manager")
    response = client.post(
        f"/vendors/{vendor.id}/services/new",
        data={
            "name": "Payments hosting",
            "service_type": "cloud_iaas",
            "hosting_countries": "ie, de",
            "cloud_regions": "eu-west-1",
            "attested_rto_hours": "4",
            "attested_rpo_hours": "0.25",
        },
    )
    assert response.status_code == 302
    service = session.scalar(select(VendorService))
    assert service.hosting_countries == ["DE", "IE"] and service.cloud_regions == ["eu-west-1"]
    assert (service.attested_rto_hours, service.attested_rpo_hours) == (4.0, 0.25)
    assert service.attestation_source == "manual" and service.attested_at is not None
    page = client.get(f"/vendors/{vendor.id}")
    assert "Payments hosting" in page.text and "4 h" in page.text


def test_bad_service_input_is_explained_and_not_stored(client, auth, build, session):
    vendor = build.vendor()
    auth.login_as("vendor_manager")
    response = client.post(
        f"/vendors/{vendor.id}/services/new",
        data={
            "name": "",
            "service_type": "saas",
            "hosting_countries": "XX",
            "attested_rto_hours": "-1",
        },
    )
    assert response.status_code == 200
    assert "Not ISO 3166 two-letter country codes: XX." in response.text
    assert "Number must be between 0 and 8760." in response.text
    assert session.scalar(select(func.count(VendorService.id))) == 0


def test_edit_and_archive_a_service(client, auth, build, session):
    vendor = build.vendor()
    auth.login_as("vendor_manager")
    client.post(
        f"/vendors/{vendor.id}/services/new", data={"name": "Payroll", "service_type": "saas"}
    )
    service = session.scalar(select(VendorService))
    form = client.get(f"/vendors/{vendor.id}/services/{service.id}/edit")
    assert 'value="Payroll"' in form.text
    client.post(
        f"/vendors/{vendor.id}/services/{service.id}/edit",
        data={"name": "Payroll", "service_type": "saas", "attested_rto_hours": "24"},
    )
    session.expire_all()
    assert session.get(VendorService, service.id).attested_rto_hours == 24.0
    other = build.vendor()
    assert client.get(f"/vendors/{other.id}/services/{service.id}/edit").status_code == 404
    client.post(f"/vendors/{vendor.id}/services/{service.id}/archive", follow_redirects=True)
    assert 'data-testid="services"' in client.get(f"/vendors/{vendor.id}").text
    assert "Payroll" not in client.get(f"/vendors/{vendor.id}").text


def test_services_api(app, build, session):
    vendor = build.vendor()
    other = build.vendor()
    manager = build.user(role="vendor_manager")
    headers = {"Authorization": f"Bearer {build.token(manager)}"}
    client = app.test_client()
    created = client.post(
        f"/api/v1/vendors/{vendor.id}/services",
        json={
            "name": "Hosting",
            "service_type": "cloud_iaas",
            "hosting_countries": ["ie"],
            "attested_rto_hours": 2,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert body["hosting_countries"] == ["IE"] and body["attestation_source"] == "api"
    bad = client.post(
        f"/api/v1/vendors/{vendor.id}/services",
        json={"attested_rto_hours": "soon"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"name", "attested_rto_hours"}
    listing = client.get(f"/api/v1/vendors/{vendor.id}/services", headers=headers).get_json()
    assert [s["name"] for s in listing["items"]] == ["Hosting"]

    vendor_user = build.user(role="vendor_user", vendor=other)
    vendor_headers = {"Authorization": f"Bearer {build.token(vendor_user)}"}
    assert (
        client.get(f"/api/v1/vendor-services/{body['id']}", headers=vendor_headers).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/vendors/{vendor.id}/services", headers=vendor_headers).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/vendors/{other.id}/services", json={"name": "x"}, headers=vendor_headers
        ).status_code
        == 403
    )
