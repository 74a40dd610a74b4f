from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.security import Role

if TYPE_CHECKING:
    from vendor_portal.vendors.models import Vendor


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __audit_redact__ = ("password_hash",)
    __audit_ignore__ = ("last_login_at",)  # the auth.login event records each sign-in

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), index=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Bumped when the password changes or the user is deactivated: signs out other sessions.
    session_version: Mapped[int] = mapped_column(default=1)

    vendor: Mapped[Vendor | None] = relationship(lazy="joined", innerjoin=False)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: the id and session version, so old sessions expire
        return f"{self.id}:{self.session_version}"

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def awaiting_invite(self) -> bool:
        return self.password_hash is None and self.invited_at is not None

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"
    __audit_redact__ = ("token_hash",)
    __audit_ignore__ = ("last_used_at",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(db.Model):
    """A failed sign-in, kept for throttling (audited separately as an event)."""

    __tablename__ = "login_failure"
    __audit__ = False
    __table_args__ = (
        Index("ix_login_failure_email_address", "email", "address", "occurred_at"),
        Index("ix_login_failure_address", "address", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
