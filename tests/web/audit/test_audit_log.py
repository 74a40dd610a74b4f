import itertools

import sqlalchemy as sa
from sqlalchemy import select

from vendor_portal.audit.models import AuditEntry


def _entries(session, **where):
    stmt = select(AuditEntry).order_by(AuditEntry.seq)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, key) == value)
    return session.scalars(stmt).all()


def test_changes_through_the_app_are_chained_with_actor_and_values(client, auth, session, runner):
    manager = auth.login_as("vendor_manager")
    client.post(
        "/vendors/new", data={"name": "Acme", "country": "DE", "tier": "low", "status": "active"}
    )
    [created] = _entries(session, entity_type="vendor", action="create")
    assert created.actor == manager.email and created.actor_id == manager.id
    assert created.address == "127.0.0.1"
    assert created.after["name"] == "Acme" and created.before is None
    entries = _entries(session)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert f"{len(entries)} entries verified" in result.output


def test_passwords_and_token_hashes_are_redacted(client, auth, session):
    user = auth.login_as("admin")
    client.post("/auth/tokens", data={"name": "t"})
    client.post(
        "/auth/password",
        data={
            "current_password": "correct horse battery",
            "new_password": "another good passphrase",
            "confirm": "another good passphrase",
        },
    )
    token_entry = _entries(session, entity_type="api_token", action="create")[0]
    assert token_entry.after["token_hash"] == "[redacted]"
    password_entry = next(
        e
        for e in _entries(session, entity_type="user", action="update")
        if "password_hash" in e.after
    )
    assert password_entry.after["password_hash"] == "[redacted]"
    assert password_entry.entity_id == str(user.id)


def test_verify_names_the_first_edited_row(client, auth, session, runner):
    auth.login_as("vendor_manager")
    for name in ("A", "B", "C"):
        client.post(
            "/vendors/new", data={"name": name, "country": "DE", "tier": "low", "status": "active"}
        )
    target = _entries(session, entity_type="vendor", action="create")[1]
    session.execute(
        sa.update(AuditEntry).where(AuditEntry.id == target.id).values(after={"name": "Tampered"})
    )
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"broken at entry {target.seq}" in result.output
    assert "edited" in result.output


def test_verify_detects_a_deleted_row(client, auth, session, runner):
    auth.login_as("vendor_manager")
    for name in ("A", "B"):
        client.post(
            "/vendors/new", data={"name": name, "country": "DE", "tier": "low", "status": "active"}
        )
    target = _entries(session, entity_type="vendor", action="create")[0]
    session.execute(sa.delete(AuditEntry).where(AuditEntry.id == target.id))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert f"broken at entry {target.seq}" in result.output


def test_verify_detects_removal_of_the_newest_rows(client, auth, session, runner):
    auth.login_as("vendor_manager")
    client.post(
        "/vendors/new", data={"name": "A", "country": "DE", "tier": "low", "status": "active"}
    )
    last = _entries(session)[-1]
    session.execute(sa.delete(AuditEntry).where(AuditEntry.id == last.id))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0 and "chain head" in result.output


def test_auditor_browses_filters_and_exports_but_vendor_manager_cannot(client, auth, build):
    build.vendor(name="Visible Vendor")
    auth.login_as("vendor_manager")
    assert client.get("/audit/").status_code == 403
    auth.logout()
    auth.login_as("auditor")
    page = client.get("/audit/?action=auth.login")
    assert page.status_code == 200 and "auth.login" in page.text
    verify = client.get("/audit/verify")
    assert 'data-testid="chain-intact"' in verify.text
    export = client.get("/audit/?export=csv")
    assert export.text.splitlines()[0].startswith("#,When (UTC),Who")
    bad = client.get("/audit/?from=yesterday", follow_redirects=True)
    assert "From must be a date" in bad.text


def test_failed_sign_in_is_audited_without_the_password(client, build, session):
    user = build.user()
    client.post("/auth/login", data={"email": user.email, "password": "guess-123"})
    [entry] = _entries(session, action="auth.login_failed")
    assert entry.after == {"email": user.email}
    assert "guess-123" not in str(entry.after)


def test_created_rows_name_their_id_and_sign_ins_name_the_user(client, build, session):
    user = build.user()
    client.post("/auth/login", data={"email": user.email, "password": "correct horse battery"})
    client.post(
        "/vendors/new", data={"name": "Acme", "country": "DE", "tier": "low", "status": "active"}
    )
    [login] = _entries(session, action="auth.login")
    assert (login.actor, login.actor_id, login.entity_id) == (user.email, user.id, str(user.id))
    [created] = _entries(session, entity_type="vendor", action="create")
    assert created.entity_id == str(created.after["id"])
