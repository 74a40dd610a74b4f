from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from vendor_portal.evidence.domain import COMMENT_MAX, TITLE_MAX, EvidenceType
from vendor_portal.forms import blank_to_none, choices
from vendor_portal.storage import accept_attribute


class UploadForm(FlaskForm):
    vendor_id = SelectField("Vendor", validators=[DataRequired(message="Choose the vendor.")])
    evidence_type = SelectField(
        "Type of evidence", choices=choices((t.value, t.label) for t in EvidenceType)
    )
    title = StringField(
        "Title",
        description="e.g. 'Group BCP' or 'Cyber insurance 2026'. Defaults to the type.",
        validators=[Optional(), Length(max=TITLE_MAX)],
        filters=[blank_to_none],
    )
    issued_on = DateField(
        "Issued on", description="The date on the document.", validators=[Optional()]
    )
    valid_until = DateField(
        "Valid until",
        description="Leave empty when the document has no end date.",
        validators=[Optional()],
    )
    file = FileField(
        "File",
        validators=[FileRequired(message="Choose a file to upload.")],
        render_kw={"accept": accept_attribute()},
    )


class ReviewForm(FlaskForm):
    decision = SelectField(
        "Decision",
        choices=choices([("accepted", "Accept"), ("rejected", "Reject")]),
    )
    comment = TextAreaField(
        "Comment",
        description="Required when rejecting: what the vendor must fix.",
        validators=[Optional(), Length(max=COMMENT_MAX)],
        filters=[blank_to_none],
    )
