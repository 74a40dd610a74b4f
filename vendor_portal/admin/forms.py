from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from vendor_portal.auth.domain import password_problems
from vendor_portal.forms import choices, optional_int, strip_filter
from vendor_portal.security import ROLE_LABELS, Role


def _role_choices() -> list:
    return choices((role.value, ROLE_LABELS[role]) for role in Role)


class _RoleVendorFields(FlaskForm):
    role = SelectField("Role", choices=_role_choices())
    vendor_id = SelectField(
        "Vendor",
        description="Required for vendor users: the company whose data they may see.",
        coerce=optional_int,
    )

    def validate_vendor_id(self, field) -> None:
        if self.role.data == Role.VENDOR_USER and field.data is None:
            raise ValidationError("Choose the vendor this user works for.")


class UserCreateForm(_RoleVendorFields):
    email = EmailField(
        "Email", validators=[DataRequired(), Email(), Length(max=320)], filters=[strip_filter]
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    send_invite = BooleanField("Email an invitation to set a password", default=True)
    password = PasswordField(
        "Or set a password now",
        description="Leave empty to send an invitation instead.",
        validators=[Optional(), Length(max=1024)],
    )

    def validate_password(self, field) -> None:
        if field.data:
            problems = password_problems(field.data, self.email.data or "")
            if problems:
                raise ValidationError(" ".join(problems))
        elif not self.send_invite.data:
            raise ValidationError("Set a password or send an invitation.")


class UserEditForm(_RoleVendorFields):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    active = BooleanField("Active", description="Inactive users cannot sign in or use API tokens.")
