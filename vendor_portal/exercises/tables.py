from vendor_portal.exercises.models import Exercise
from vendor_portal.tables import Column, Table


def _vendors(exercise: Exercise) -> str:
    return ", ".join(f"{v.vendor.name} ({v.response})" for v in exercise.vendors)


EXERCISE_TABLE = Table(
    columns=[
        Column("id", "ID", lambda e: e.id, Exercise.id),
        Column("title", "Title", lambda e: e.title, Exercise.title),
        Column("type", "Type", lambda e: e.exercise_type, Exercise.exercise_type),
        Column("starts_at", "Starts (UTC)", lambda e: e.starts_at, Exercise.starts_at),
        Column("ends_at", "Ends (UTC)", lambda e: e.ends_at, Exercise.ends_at),
        Column("timezone", "Time zone", lambda e: e.timezone),
        Column("status", "Status", lambda e: e.status, Exercise.status),
        Column("vendors", "Vendors (answer)", _vendors),
        Column("outcome", "Outcome", lambda e: e.outcome or ""),
    ],
    default_sort="starts_at",
    export_name="exercises",
)
