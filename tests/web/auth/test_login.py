from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from vendor_portal.audit.models import AuditEntry
from vendor_portal.auth.models import LoginFailure, User


def test_sign_in_lands_on_home_and_records_audit_event(client, build, session):
    user = build.user(role="procurement", name="Pat")
    response = client.post(
        "/auth/login", data={"email": user.email.upper(), "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert "Hello, Pat" in home.text
    assert "Procurement" in home.text
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(user.id)))
    assert "auth.login" in list(actions)


def test_wrong_password_is_refused_with_a_clear_message(client, build):
    user = build.user()
    response = client.post("/auth/login", data={"email": user.email, "password": "wrong"})
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert client.get("/vendors/").status_code == 302  # still anonymous


def test_unknown_account_gets_the_same_message(client, build):
    response = client.post("/auth/login", data={"email": "nobody@example.com", "password": "x"})
    assert response.status_code == 401
    assert "Wrong email or password." in response.text


def test_five_failures_lock_the_account_from_that_address_for_15_minutes(client, build, session):
    user = build.user()
    for _ in range(4):
        client.post("/auth/login", data={"email": user.email, "password": "wrong"})
    fifth = client.post("/auth/login", data={"email": user.email, "password": "wrong"})
    assert "locked for 15 more minutes" in fifth.text
    # Even the right password is refused while locked.
    locked = client.post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )
    assert locked.status_code == 401
    assert "Too many failed sign-in attempts" in locked.text
    # Another address is not locked out by this one's failures.
    other = client.post(
        "/auth/login",
        data={"email": user.email, "password": "correct horse battery"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 302


def test_successful_sign_in_clears_failures(client, build, session):
    user = build.user()
    for _ in range(3):
        client.post("/auth/login", data={"email": user.email, "password": "wrong"})
    assert (
        client.post(
            "/auth/login", data={"email": user.email, "password": "correct horse battery"}
        ).status_code
        == 302
    )
    count = session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.email == user.email)
    )
    assert count == 0


def test_address_is_locked_after_many_failures_across_accounts(client, build, app):
    app.config["LOGIN_ADDRESS_MAX_FAILURES"] = 6
    for n in range(6):
        client.post("/auth/login", data={"email": f"spray{n}@example.com", "password": "x"})
    user = build.user()
    response = client.post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 401
    assert "Too many failed sign-in attempts" in response.text


def test_deactivated_user_cannot_sign_in(client, build):
    user = build.user(active=False)
    response = client.post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 401


def test_next_parameter_only_redirects_within_the_site(client, build):
    user = build.user()
    ok = client.post(
        "/auth/login?next=/vendors/",
        data={"email": user.email, "password": "correct horse battery"},
    )
    assert ok.headers["Location"] == "/vendors/"
    client.post("/auth/logout")
    evil = client.post(
        "/auth/login?next=//evil.example.com/x",
        data={"email": user.email, "password": "correct horse battery"},
    )
    assert evil.headers["Location"] == "/"


def test_protected_page_redirects_anonymous_users_to_login(client):
    response = client.get("/vendors/?tier=high")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["/vendors/?tier=high"]
    assert "Please sign in to continue." in client.get(response.headers["Location"]).text


def test_logout_ends_the_session(client, auth):
    auth.login_as("admin")
    assert client.get("/admin/users").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/admin/users").status_code == 302


def test_empty_form_shows_field_errors(client):
    response = client.post("/auth/login", data={})
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert 'aria-invalid="true"' in response.text


def test_password_change_requires_current_password_and_signs_out_other_sessions(
    app, build, session
):
    user = build.user()
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        c.post("/auth/login", data={"email": user.email, "password": "correct horse battery"})
    wrong = first.post(
        "/auth/password",
        data={
            "current_password": "nope",
            "new_password": "a much better passphrase",
            "confirm": "a much better passphrase",
        },
    )
    assert "This is not your current password." in wrong.text
    weak = first.post(
        "/auth/password",
        data={
            "current_password": "correct horse battery",
            "new_password": "short",
            "confirm": "short",
        },
    )
    assert "Use at least 12 characters." in weak.text
    done = first.post(
        "/auth/password",
        data={
            "current_password": "correct horse battery",
            "new_password": "a much better passphrase",
            "confirm": "a much better passphrase",
        },
    )
    assert done.status_code == 302
    assert first.get("/").status_code == 200  # this session continues
    assert second.get("/auth/tokens").status_code == 302  # the other one is signed out
    stored = session.get(User, user.id)
    session.refresh(stored)
    assert stored.password_hash.startswith("$argon2id$")
    assert "a much better passphrase" not in stored.password_hash
