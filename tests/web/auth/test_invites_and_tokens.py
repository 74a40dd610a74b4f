import re

from sqlalchemy import select

from vendor_portal.auth.models import ApiToken, User


def _invite_link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://\S+/auth/invite/\S+", body).group(0)


def test_admin_invites_a_vendor_user_by_email_who_then_sets_a_password(
    client, auth, build, session, smtp_server
):
    vendor = build.vendor(name="Acme Hosting")
    auth.login_as("admin")
    response = client.post(
        "/admin/users/new",
        data={
            "email": "Jo@Acme.example.com",
            "name": "Jo",
            "role": "vendor_user",
            "vendor_id": str(vendor.id),
            "send_invite": "y",
        },
    )
    assert response.status_code == 302
    user = session.scalar(select(User).where(User.email == "jo@acme.example.com"))
    assert user.vendor_id == vendor.id
    assert user.password_hash is None
    [message] = smtp_server.messages
    assert message["To"] == "jo@acme.example.com"
    assert "Vendor user" in message.get_body(preferencelist=("plain",)).get_content()
    link = _invite_link(message)
    path = link.split("127.0.0.1:5000", 1)[1]

    auth.logout()
    form = client.get(path)
    assert "Welcome, Jo" in form.text
    weak = client.post(path, data={"new_password": "acme", "confirm": "acme"})
    assert "Use at least 12 characters." in weak.text
    done = client.post(
        path, data={"new_password": "vendor resilience 42", "confirm": "vendor resilience 42"}
    )
    assert done.status_code == 302
    assert "Acme Hosting" in client.get("/").text
    # The link works once.
    client.post("/auth/logout")
    assert client.get(path).status_code == 404


def test_tampered_invite_link_is_refused(client):
    response = client.get("/auth/invite/not-a-real-token")
    assert response.status_code == 404
    assert "not valid" in response.text


def test_vendor_user_must_have_a_vendor(client, auth):
    auth.login_as("admin")
    response = client.post(
        "/admin/users/new",
        data={
            "email": "x@example.com",
            "name": "X",
            "role": "vendor_user",
            "vendor_id": "",
            "password": "a fine passphrase",
        },
    )
    assert response.status_code == 200
    assert "Choose the vendor this user works for." in response.text


def test_admin_changes_role_and_deactivates(client, auth, build, session):
    admin = auth.login_as("admin")
    target = build.user(role="procurement")
    response = client.post(
        f"/admin/users/{target.id}", data={"name": "Renamed", "role": "auditor", "vendor_id": ""}
    )
    assert response.status_code == 302
    session.expire_all()
    stored = session.get(User, target.id)
    assert (stored.name, stored.role, stored.active) == ("Renamed", "auditor", False)
    # An admin cannot lock themselves out.
    self_edit = client.post(
        f"/admin/users/{admin.id}", data={"name": "Me", "role": "auditor", "active": "y"}
    )
    assert "cannot remove your own administrator role" in self_edit.text


def test_only_admins_manage_users(client, auth):
    auth.login_as("vendor_manager")
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users/new", data={}).status_code == 403


def test_user_list_filters_and_exports(client, auth, build):
    auth.login_as("admin")
    build.user(role="auditor", email="reader@example.com")
    page = client.get("/admin/users?role=auditor")
    assert "reader@example.com" in page.text
    csv = client.get("/admin/users?export=csv&role=auditor")
    assert csv.mimetype == "text/csv"
    assert "reader@example.com" in csv.text


def test_token_page_shows_a_token_once_and_stores_only_its_hash(client, auth, session):
    user = auth.login_as("auditor")
    page = client.post("/auth/tokens", data={"name": "monitoring"})
    plain = re.search(r'data-testid="new-token">(vp_[^<]+)<', page.text).group(1)
    token = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.token_hash != plain and plain not in token.token_hash
    assert (
        client.get("/api/v1/vendors", headers={"Authorization": f"Bearer {plain}"}).status_code
        == 200
    )
    assert plain not in client.get("/auth/tokens").text
    client.post(f"/auth/tokens/{token.id}/revoke")
    assert (
        client.get("/api/v1/vendors", headers={"Authorization": f"Bearer {plain}"}).status_code
        == 401
    )


def test_users_cannot_revoke_each_others_tokens(app, build, session):
    owner = build.user()
    plain = build.token(owner)
    token = session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    other = build.user()
    c = app.test_client()
    c.post("/auth/login", data={"email": other.email, "password": "correct horse battery"})
    assert c.post(f"/auth/tokens/{token.id}/revoke").status_code == 404
    assert c.get("/api/v1/vendors", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
