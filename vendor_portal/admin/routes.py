import smtplib

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from vendor_portal.admin import bp
from vendor_portal.admin.forms import UserCreateForm, UserEditForm
from vendor_portal.auth import services as accounts
from vendor_portal.auth.models import User
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.mail import send
from vendor_portal.security import Role, get_scoped_or_404, permission_required
from vendor_portal.tables import (
    BadTableRequest,
    Column,
    Table,
    export_response,
    paginate,
    parse_page_args,
)
from vendor_portal.vendors.models import Vendor

USER_TABLE = Table(
    columns=[
        Column("email", "Email", lambda u: u.email, User.email),
        Column("name", "Name", lambda u: u.name, User.name),
        Column("role", "Role", lambda u: u.role, User.role),
        Column("vendor", "Vendor", lambda u: u.vendor.name if u.vendor else ""),
        Column("active", "Active", lambda u: "yes" if u.active else "no", User.active),
        Column("last_login_at", "Last sign-in", lambda u: u.last_login_at, User.last_login_at),
    ],
    default_sort="email",
    export_name="users",
)


def _vendor_choices() -> list:
    rows = db.session.execute(
        select(Vendor.id, Vendor.name).where(Vendor.archived_at.is_(None)).order_by(Vendor.name)
    )
    return choices([("", "— none —"), *rows])


def send_invitation(user: User) -> str:
    """Email an invitation link; "sent", "logged" (no SMTP configured) or "failed"."""
    token = accounts.invite_token(current_app.config["SECRET_KEY"], user)
    link = current_app.config["BASE_URL"].rstrip("/") + url_for("auth.accept_invite", token=token)
    days = current_app.config["INVITE_MAX_AGE_DAYS"]
    text = (
        f"Hello {user.name},\n\n"
        f"You have been invited to the Vendor Portal as {user.role_label}.\n"
        f"Set your password here (the link works for {days} days):\n\n{link}\n\n"
        "If you did not expect this, ignore this message.\n"
    )
    accounts.mark_invited(db.session, user)
    try:
        return (
            "sent"
            if send(current_app.config, [user.email], "Your Vendor Portal invitation", text)
            else "logged"
        )
    except (OSError, smtplib.SMTPException) as exc:
        current_app.logger.warning("Invitation to %s not sent: %s", user.email, exc)
        return "failed"


INVITE_MESSAGES = {
    "sent": ("Invitation sent to {email}.", "success"),
    "logged": (
        "Email is not configured, so the invitation for {email} was written to the server log; "
        "use “Copy invitation link” to pass it on.",
        "warning",
    ),
    "failed": (
        "The mail server did not accept the invitation for {email}; try “Send invitation again” "
        "later or use “Copy invitation link”.",
        "danger",
    ),
}


def flash_invite(outcome: str, email: str) -> None:
    message, category = INVITE_MESSAGES[outcome]
    flash(message.format(email=email), category)


@bp.get("/users")
@permission_required("users.manage")
def users():
    q = request.args.get("q", "").strip().lower()
    stmt = select(User)
    if q:
        stmt = stmt.where(
            or_(func.lower(User.email).like(f"%{q}%"), func.lower(User.name).like(f"%{q}%"))
        )
    role = request.args.get("role")
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == role)
    try:
        stmt = USER_TABLE.sorted(stmt, request.args.get("sort"), User.id)
        if request.args.get("export"):
            return export_response(USER_TABLE, db.session.scalars(stmt), request.args["export"])
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("admin.users"))
    return render_template(
        "admin/users.html",
        page=paginate(db.session, stmt, page, per_page),
        roles=list(Role),
        q=q,
        role=role,
        sort=request.args.get("sort") or USER_TABLE.default_sort,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users.manage")
def create_user():
    form = UserCreateForm()
    form.vendor_id.choices = _vendor_choices()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                db.session,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data or None,
                vendor_id=form.vendor_id.data if form.role.data == Role.VENDOR_USER else None,
            )
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            outcome = None if form.password.data else send_invitation(user)
            db.session.commit()
            flash(f"User {user.email} created.", "success")
            if outcome:
                flash_invite(outcome, user.email)
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("users.manage")
def edit_user(user_id: int):
    user = get_scoped_or_404(User, user_id, current_user)
    form = UserEditForm(obj=user)
    form.vendor_id.choices = _vendor_choices()
    if form.validate_on_submit():
        if user.id == current_user.id and (not form.active.data or form.role.data != Role.ADMIN):
            form.role.errors.append(
                "You cannot remove your own administrator role or deactivate yourself."
            )
        else:
            accounts.update_user(
                db.session,
                user,
                name=form.name.data,
                role=form.role.data,
                vendor_id=form.vendor_id.data,
                active=form.active.data,
            )
            db.session.commit()
            flash(f"User {user.email} saved.", "success")
            return redirect(url_for("admin.users"))
    invite_link = None
    if user.password_hash is None and request.args.get("show_link") == "1":
        invite_link = current_app.config["BASE_URL"].rstrip("/") + url_for(
            "auth.accept_invite",
            token=accounts.invite_token(current_app.config["SECRET_KEY"], user),
        )
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        confirm_form=ConfirmForm(),
        invite_link=invite_link,
    )


@bp.post("/users/<int:user_id>/invite")
@permission_required("users.manage")
def resend_invite(user_id: int):
    user = get_scoped_or_404(User, user_id, current_user)
    if ConfirmForm().validate_on_submit():
        if user.password_hash is not None:
            flash(f"{user.email} has already set a password.", "info")
        else:
            outcome = send_invitation(user)
            db.session.commit()
            flash_invite(outcome, user.email)
    return redirect(url_for("admin.edit_user", user_id=user.id))
