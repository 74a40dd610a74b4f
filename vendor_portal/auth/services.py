"""Accounts, sign-in throttling, invitations and API tokens. Services flush; callers commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vendor_portal.audit.services import Actor, acting_as, current_actor, record_event
from vendor_portal.auth import passwords
from vendor_portal.auth.domain import ThrottlePolicy, locked_until, minutes_left, password_problems
from vendor_portal.auth.models import ApiToken, LoginFailure, User
from vendor_portal.db import utcnow
from vendor_portal.security import Role

TOKEN_PREFIX = "vp_"  # noqa: S105 (a marker, not a secret)


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for the user."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    vendor_id: int | None = None,
) -> User:
    email = normalise_email(email)
    role = Role(role)
    if role == Role.VENDOR_USER and vendor_id is None:
        raise AccountError("A vendor user must belong to a vendor.")
    if role != Role.VENDOR_USER and vendor_id is not None:
        raise AccountError("Only vendor users belong to a vendor.")
    if user_by_email(session, email) is not None:
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(email=email, name=name.strip() or email, role=role.value, vendor_id=vendor_id)
    if password is not None:
        problems = password_problems(password, email)
        if problems:
            raise AccountError(" ".join(problems))
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = utcnow()
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, new_password: str) -> None:
    problems = password_problems(new_password, user.email)
    if problems:
        raise AccountError(" ".join(problems))
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.session_version += 1
    session.flush()


def update_user(
    session: Session, user: User, *, name: str, role: str, vendor_id: int | None, active: bool
) -> None:
    role = Role(role)
    if role == Role.VENDOR_USER and vendor_id is None:
        raise AccountError("A vendor user must belong to a vendor.")
    if role != Role.VENDOR_USER:
        vendor_id = None
    if user.active and not active:
        user.session_version += 1  # sign the user out everywhere
    user.name = name.strip() or user.email
    user.role = role.value
    user.vendor_id = vendor_id
    user.active = active
    session.flush()


# --- sign-in and throttling -------------------------------------------------------------


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    error: str | None = None


def _failures(session: Session, since: datetime, email: str | None, address: str) -> list[datetime]:
    stmt = select(LoginFailure.occurred_at).where(
        LoginFailure.address == address, LoginFailure.occurred_at > since
    )
    if email is not None:
        stmt = stmt.where(LoginFailure.email == email)
    return list(session.scalars(stmt))


def _lock_message(until: datetime, now: datetime) -> str:
    minutes = minutes_left(until, now)
    return (
        "Too many failed sign-in attempts. For your security, sign-in is locked for "
        f"{minutes} more minute{'s' if minutes != 1 else ''}."
    )


def sign_in(
    session: Session, email: str, password: str, address: str, policy: ThrottlePolicy
) -> SignInResult:
    """Check credentials, honouring and recording throttling. Flushes; caller commits."""
    email = normalise_email(email)
    now = utcnow()
    since = now - policy.window
    for limit, key in ((policy.max_failures, email), (policy.max_address_failures, None)):
        until = locked_until(_failures(session, since, key, address), limit, policy.window, now)
        if until is not None:
            record_event(session, "auth.login_locked", "user", None, {"email": email})
            return SignInResult(None, _lock_message(until, now))

    user = user_by_email(session, email)
    if user is not None and user.active and passwords.verify_password(user.password_hash, password):
        session.execute(
            delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.address == address)
        )
        if passwords.needs_rehash(user.password_hash or ""):
            user.password_hash = passwords.hash_password(password)
        user.last_login_at = now
        with acting_as(Actor(user.id, user.email, current_actor().address)):
            session.flush()
            record_event(session, "auth.login", "user", user.id)
        return SignInResult(user)

    if user is not None and user.active:
        passwords.verify_password(None, password)  # keep timing alike for unknown accounts
    session.add(LoginFailure(email=email, address=address, occurred_at=now))
    session.flush()
    record_event(session, "auth.login_failed", "user", user.id if user else None, {"email": email})
    remaining = policy.max_failures - len(_failures(session, since, email, address))
    if remaining <= 0:
        return SignInResult(None, _lock_message(now + policy.window, now))
    message = "Wrong email or password."
    if remaining <= 2:
        plural = "s" if remaining != 1 else ""
        message += (
            f" {remaining} attempt{plural} left before sign-in is locked "
            f"for {policy.lock_minutes} minutes."
        )
    return SignInResult(None, message)


def purge_old_failures(session: Session, policy: ThrottlePolicy) -> int:
    result = session.execute(
        delete(LoginFailure).where(LoginFailure.occurred_at < utcnow() - policy.window)
    )
    return result.rowcount or 0


# --- API tokens -------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Make a token; the plain value is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip() or "API token",
        prefix=plain[:10],
        token_hash=_token_digest(plain),
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str) -> User | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(plain)))
    now = utcnow()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.active:
        return None
    # Record use at most once a minute: cheap on hot API paths.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def revoke_token(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


# --- invitations ------------------------------------------------------------------------

INVITE_SALT = "vendor-portal-invite"


def invite_token(secret_key: str, user: User) -> str:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret_key, salt=INVITE_SALT).dumps(
        {"user": user.id, "v": user.session_version}
    )


def user_for_invite(
    session: Session, secret_key: str, token: str, max_age_days: int
) -> User | None:
    """The invited user if the token is genuine, unexpired and not used yet."""
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    try:
        data = URLSafeTimedSerializer(secret_key, salt=INVITE_SALT).loads(
            token, max_age=max_age_days * 86400
        )
    except BadSignature:
        return None
    user = session.get(User, data.get("user"))
    if user is None or not user.active or user.session_version != data.get("v"):
        return None
    return user


def mark_invited(session: Session, user: User) -> None:
    user.invited_at = utcnow()
    session.flush()
