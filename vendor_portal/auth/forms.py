from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError

from vendor_portal.auth.domain import MIN_PASSWORD_LENGTH, password_problems
from vendor_portal.forms import strip_filter


class LoginForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired(), Length(max=320)], filters=[strip_filter]
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in on this device")


def _strong_password(form, field) -> None:
    email = getattr(form, "account_email", "")
    problems = password_problems(field.data or "", email)
    if problems:
        raise ValidationError(" ".join(problems))


class NewPasswordMixin:
    new_password = PasswordField(
        "New password",
        description=(
            f"At least {MIN_PASSWORD_LENGTH} characters. A passphrase of several words works well."
        ),
        validators=[DataRequired(), Length(max=1024), _strong_password],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("new_password", message="The two passwords differ.")],
    )


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=1024)]
    )


class AcceptInviteForm(NewPasswordMixin, FlaskForm):
    pass


class TokenForm(FlaskForm):
    name = StringField(
        "Token name",
        description="What the token is for, e.g. “monitoring feed”.",
        validators=[DataRequired(), Length(max=100)],
        filters=[strip_filter],
    )
    expires_in_days = IntegerField(
        "Expires after (days)",
        description="Leave empty for a token that does not expire.",
        validators=[Optional(), NumberRange(min=1, max=3650)],
    )
