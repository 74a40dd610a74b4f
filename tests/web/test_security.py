import re

import pytest


def test_security_headers_on_every_page(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_or_external_assets(client):
    html = client.get("/auth/login").text
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in tag
    assert "http://" not in re.sub(r'href="http://127.0.0.1', "", html.split("<body>")[0])
    assert "cdn" not in html.lower()


def test_session_cookie_flags(client, build):
    user = build.user()
    response = client.post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_in_production(app, build):
    app.config["SESSION_COOKIE_SECURE"] = True
    user = build.user()
    response = app.test_client().post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_forms_without_csrf_token_are_refused_and_store_nothing(csrf_app, build):
    user = build.user(role="vendor_manager")
    client = csrf_app.test_client()
    page = client.get("/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    assert (
        client.post(
            "/auth/login", data={"email": user.email, "password": "correct horse battery"}
        ).status_code
        == 400
    )
    ok = client.post(
        "/auth/login",
        data={"email": user.email, "password": "correct horse battery", "csrf_token": token},
    )
    assert ok.status_code == 302
    refused = client.post("/vendors/new", data={"name": "X", "country": "DE", "tier": "low"})
    assert refused.status_code == 400
    assert "This form has expired" in refused.text


def test_api_needs_no_csrf_token(csrf_app, build):
    user = build.user(role="vendor_manager")
    token = build.token(user)
    response = csrf_app.test_client().post(
        "/api/v1/vendors",
        json={"name": "X", "tier": "low", "country": "DE"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201


def test_errors_never_show_a_traceback(app, client, auth):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    auth.login_as("admin")
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_friendly_404_and_403_pages(client, auth):
    assert "Page not found" in client.get("/no-such-page").text
    auth.login_as("procurement")
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403
    assert "You do not have access to this page" in forbidden.text
