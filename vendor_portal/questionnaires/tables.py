from vendor_portal.questionnaires.models import Assignment, QuestionnaireTemplate
from vendor_portal.tables import Column, Table
from vendor_portal.vendors.models import Vendor

ASSIGNMENT_TABLE = Table(
    columns=[
        Column("id", "ID", lambda a: a.id, Assignment.id),
        Column("vendor", "Vendor", lambda a: a.vendor.name, Vendor.name),
        Column(
            "template",
            "Questionnaire",
            lambda a: a.version.template.name,
            QuestionnaireTemplate.name,
        ),
        Column("version", "Version", lambda a: a.version.number),
        Column("status", "Status", lambda a: a.status_label, Assignment.status),
        Column("due_date", "Due", lambda a: a.due_date, Assignment.due_date),
        Column("progress", "Answered %", lambda a: a.progress_percent, Assignment.progress_percent),
        Column("score", "Score", lambda a: a.score, Assignment.score),
        Column("red_flags", "Red flags", lambda a: a.red_flag_count, Assignment.red_flag_count),
        Column("round", "Round", lambda a: a.current_round),
        Column("submitted_at", "Submitted", lambda a: a.submitted_at, Assignment.submitted_at),
        Column("accepted_at", "Accepted", lambda a: a.accepted_at, Assignment.accepted_at),
    ],
    default_sort="due_date",
    export_name="questionnaires",
)
