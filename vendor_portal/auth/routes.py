from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from vendor_portal.audit.services import record_event
from vendor_portal.auth import bp, services
from vendor_portal.auth.domain import ThrottlePolicy
from vendor_portal.auth.forms import AcceptInviteForm, ChangePasswordForm, LoginForm, TokenForm
from vendor_portal.auth.models import ApiToken
from vendor_portal.auth.passwords import verify_password
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm


def throttle_policy() -> ThrottlePolicy:
    config = current_app.config
    return ThrottlePolicy(
        max_failures=config["LOGIN_MAX_FAILURES"],
        max_address_failures=config["LOGIN_ADDRESS_MAX_FAILURES"],
        lock_minutes=config["LOGIN_LOCK_MINUTES"],
    )


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect off-site after sign-in."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = services.sign_in(
            db.session,
            form.email.data,
            form.password.data,
            request.remote_addr or "unknown",
            throttle_policy(),
        )
        db.session.commit()
        if result.user is not None:
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(result.user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        error = result.error
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated and ConfirmForm().validate_on_submit():
        record_event(db.session, "auth.logout", "user", current_user.id)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    form.account_email = current_user.email
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors.append("This is not your current password.")
        else:
            services.set_password(db.session, current_user, form.new_password.data)
            db.session.commit()
            login_user(current_user)  # keep this session; the version bump signs out the others
            flash("Password changed. Your other sessions have been signed out.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    user = services.user_for_invite(
        db.session,
        current_app.config["SECRET_KEY"],
        token,
        current_app.config["INVITE_MAX_AGE_DAYS"],
    )
    if user is None:
        return render_template("auth/invite_invalid.html"), 404
    form = AcceptInviteForm()
    form.account_email = user.email
    if form.validate_on_submit():
        services.set_password(db.session, user, form.new_password.data)
        db.session.commit()
        session.clear()
        login_user(user)
        flash(f"Welcome, {user.name}. Your password is set.", "success")
        return redirect(url_for("home.index"))
    return render_template("auth/accept_invite.html", form=form, user=user)


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _, new_token = services.create_token(
            db.session, current_user, form.name.data, form.expires_in_days.data
        )
        db.session.commit()
        form = TokenForm(formdata=None)
    rows = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == current_user.id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "auth/tokens.html", form=form, tokens=rows, new_token=new_token, confirm_form=ConfirmForm()
    )


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        services.revoke_token(db.session, token)
        db.session.commit()
        flash(f"Token “{token.name}” revoked.", "success")
    return redirect(url_for("auth.tokens"))
