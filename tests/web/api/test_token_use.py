"""A token's last use is recorded at most once a minute, and reading through the API writes
nothing else (no commit, no audit entry) on the requests in between."""

from datetime import timedelta

from sqlalchemy import func, select

from vendor_portal.audit.models import AuditEntry
from vendor_portal.auth.models import ApiToken
from vendor_portal.db import utcnow


def test_last_use_is_recorded_once_a_minute(client, build, session):
    user = build.user(role="vendor_manager")
    plain = build.token(user)
    headers = {"Authorization": f"Bearer {plain}"}
    token = session.scalars(select(ApiToken)).one()
    assert token.last_used_at is None
    audited = session.scalar(select(func.count(AuditEntry.id)))

    assert client.get("/api/v1/vendors", headers=headers).status_code == 200
    session.expire_all()
    first = session.get(ApiToken, token.id).last_used_at
    assert first is not None

    for _ in range(3):  # within the minute: the user is served, nothing is written
        assert client.get("/api/v1/vendors", headers=headers).status_code == 200
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at == first
    assert session.scalar(select(func.count(AuditEntry.id))) == audited

    stale = utcnow() - timedelta(minutes=2)
    session.get(ApiToken, token.id).last_used_at = stale
    session.commit()
    response = client.get("/api/v1/vendors", headers=headers)
    assert response.status_code == 200 and response.json["items"] == []
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at > stale
