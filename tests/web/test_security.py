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


# --- headers and cookies, in development and in production ---------------------------------

PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "a-production-secret-that-is-long-and-random-0123456789",
}


@pytest.fixture
def production_app(database_url, tmp_path):
    """The app as VENDOR_PORTAL_ENV=production configures it (config.load sets the flags)."""
    from tests.conftest import base_config, reset_postgres
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    app = create_app({**base_config(tmp_path, database_url), **PRODUCTION})
    if database_url.startswith("postgresql"):
        with app.app_context():
            reset_postgres(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def assert_hardened(response) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_every_kind_of_answer_carries_the_security_headers(client, auth, build):
    user = auth.login_as("vendor_manager")
    token = build.token(user)
    answers = [
        client.get("/"),  # a page
        client.get("/no-such-page"),  # an error page
        client.get("/vendors/?export=csv"),  # an export
        client.get("/api/v1/vendors", headers={"Authorization": f"Bearer {token}"}),  # the API
        client.get("/api/v1/vendors"),  # an API error
    ]
    for response in answers:
        assert_hardened(response)
        assert response.headers["Cache-Control"] == "no-store"
        # plain HTTP in development: no HSTS (it would pin a development host to HTTPS)
        assert "Strict-Transport-Security" not in response.headers
    assert answers[2].headers["Content-Disposition"].startswith("attachment")


def test_production_sends_hsts_and_secure_cookie_flags(production_app, build):
    user = build.user()
    client = production_app.test_client()
    page = client.get("/auth/login")
    assert_hardened(page)
    hsts = page.headers["Strict-Transport-Security"]
    assert "max-age=63072000" in hsts and "includeSubDomains" in hsts
    response = client.post(
        "/auth/login",
        data={"email": user.email, "password": "correct horse battery", "remember": "y"},
    )
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", "remember_token"):
        flags = [f.strip().lower() for f in cookies[name].split(";")]
        assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags, cookies[name]


def test_remember_cookie_flags_in_development(client, build):
    user = build.user()
    response = client.post(
        "/auth/login",
        data={"email": user.email, "password": "correct horse battery", "remember": "y"},
    )
    remember = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember"))
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    assert "Secure" not in remember  # http://127.0.0.1 in development


def test_production_refuses_a_weak_secret(tmp_path):
    from vendor_portal import create_app
    from vendor_portal.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(
            {
                "ENV": "production",
                "SECRET_KEY": "dev",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            }
        )


def test_downloads_are_attachments_never_sniffed_or_rendered(app, client, auth, build, session):
    from tests.evidence_factories import EvidenceBuilder

    vendor = build.vendor()
    version = EvidenceBuilder(session, app).version(vendor, filename="plan.pdf")
    user = auth.login_as("vendor_user", vendor=vendor)
    token = build.token(user)
    page = client.get(f"/evidence/versions/{version.id}/download")
    api = client.get(
        f"/api/v1/evidence/{version.id}/download", headers={"Authorization": f"Bearer {token}"}
    )
    for response in (page, api):
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        # opened directly in a browser, the file runs no script and reaches nothing
        assert "sandbox" in response.headers["Content-Security-Policy"]
        response.close()


def test_nul_characters_in_query_or_form_are_refused_before_any_query(client, auth, build):
    vendor = build.vendor(name="Untouched Ltd")
    auth.login_as("admin")
    assert client.get("/vendors/?q=a%00b").status_code == 400
    response = client.post(f"/vendors/{vendor.id}/edit", data={"name": "Bad\x00name"})
    assert response.status_code == 400
    assert b"NUL" in response.data
    assert b"Untouched Ltd" in client.get(f"/vendors/{vendor.id}").data


def test_ids_too_large_for_the_database_are_not_found(client, auth):
    auth.login_as("admin")
    assert client.get("/vendors/99999999999").status_code == 404
    assert client.get(f"/vendors/{2**31 - 1}").status_code == 404
