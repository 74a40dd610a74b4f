"""Region risk ratings in the database: import from CSV, load the public indices, look up.

Services take the session and flush; the request or CLI commits. The public indices give the
default ratings (`source` "indices"); a CSV import (`source` "import") takes precedence and is
kept when the indices are loaded again, unless the loader is told to replace it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from vendor_portal.audit.services import record_event
from vendor_portal.graph.domain import regions as domain
from vendor_portal.graph.domain.regions import Level, Rating, RatingBook
from vendor_portal.graph.models import RegionRisk

IMPORT_SOURCE = "import"
DEMO_SOURCE = "demo"
SOURCE_LABELS = {
    domain.INDICES_SOURCE: "public indices (WGI, ND-GAIN)",
    IMPORT_SOURCE: "imported CSV",
    DEMO_SOURCE: "demo (illustrative)",
}


def risk_dir(app: Flask) -> Path:
    """Where the public indices are: VENDOR_PORTAL_COUNTRY_RISK_DIR, else the shared data
    folder beside the repository (../shared/data/country_risk)."""
    configured = app.config.get("COUNTRY_RISK_DIR")
    if configured:
        return Path(str(configured))
    return Path(app.root_path).parent.parent / "shared" / "data" / "country_risk"


def to_rating(row: RegionRisk) -> Rating:
    return Rating(
        kind=row.kind,
        code=row.code,
        name=row.name,
        natural_hazard=Level(row.natural_hazard) if row.natural_hazard else None,
        natural_hazard_score=row.natural_hazard_score,
        political_instability=(
            Level(row.political_instability) if row.political_instability else None
        ),
        political_instability_score=row.political_instability_score,
        source=row.source,
        details=row.details or {},
    )


def rating_book(session: Session) -> RatingBook:
    return RatingBook(to_rating(row) for row in session.scalars(select(RegionRisk)))


def region_query(
    search: str | None = None,
    kinds: list[str] | None = None,
    levels: list[str] | None = None,
    sources: list[str] | None = None,
) -> Select[Any]:
    stmt = select(RegionRisk)
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(RegionRisk.name).like(pattern), func.lower(RegionRisk.code).like(pattern)
            )
        )
    if kinds:
        stmt = stmt.where(RegionRisk.kind.in_(kinds))
    if levels:
        stmt = stmt.where(RegionRisk.overall.in_(levels))
    if sources:
        stmt = stmt.where(RegionRisk.source.in_(sources))
    return stmt


def _values(rating: Rating) -> dict[str, Any]:
    overall = rating.overall
    return {
        "name": rating.name[:200],
        "natural_hazard": rating.natural_hazard.value if rating.natural_hazard else None,
        "natural_hazard_score": rating.natural_hazard_score,
        "political_instability": (
            rating.political_instability.value if rating.political_instability else None
        ),
        "political_instability_score": rating.political_instability_score,
        "overall": overall.value if overall else None,
        "source": rating.source,
        "details": dict(rating.details),
    }


@dataclass(frozen=True)
class SaveResult:
    created: int
    updated: int
    kept: int = 0  # rows left alone (imported ratings the indices do not overwrite)
    unmapped: tuple[str, ...] = ()


def save_ratings(
    session: Session,
    ratings: Iterable[Rating],
    source_detail: str,
    keep_sources: Iterable[str] = (),
) -> SaveResult:
    """Create or update ratings by (kind, code); rows whose source is in `keep_sources` stay."""
    keep = set(keep_sources)
    existing = {
        domain.rating_key(row.kind, row.code): row for row in session.scalars(select(RegionRisk))
    }
    created = updated = kept = 0
    for rating in ratings:
        row = existing.get(rating.key)
        if row is not None and row.source in keep:
            kept += 1
            continue
        values = _values(rating)
        if row is None:
            row = RegionRisk(kind=rating.kind, code=rating.code, source_detail=source_detail)
            session.add(row)
            existing[rating.key] = row
            created += 1
        else:
            updated += 1
        for column, value in values.items():
            if getattr(row, column) != value:
                setattr(row, column, value)
        row.source_detail = source_detail[:300]
    session.flush()
    return SaveResult(created, updated, kept)


def import_csv(session: Session, data: bytes | str, filename: str) -> SaveResult:
    """All or nothing: InvalidRatings (every problem by line and column) stores nothing."""
    ratings = domain.parse_csv(data, IMPORT_SOURCE)
    result = save_ratings(session, ratings, f"CSV {filename}"[:300])
    record_event(
        session,
        "region_risk.import",
        "region_risk",
        None,
        {
            "file": filename,
            "ratings": len(ratings),
            "created": result.created,
            "updated": result.updated,
        },
    )
    return result


def load_indices(session: Session, folder: Path, replace_imported: bool = False) -> SaveResult:
    """The default ratings from the public indices; imported ratings are kept unless
    `replace_imported`. Raises domain.IndexFileError when a file is missing or malformed."""
    loaded = domain.load_indices(folder)
    detail = (
        f"WGI political stability {loaded.years['wgi']}; ND-GAIN exposure "
        f"{loaded.years['ndgain_exposure']} and vulnerability "
        f"{loaded.years['ndgain_vulnerability']}"
    )
    keep = () if replace_imported else (IMPORT_SOURCE,)
    result = save_ratings(session, loaded.ratings, detail, keep)
    record_event(
        session,
        "region_risk.load_indices",
        "region_risk",
        None,
        {
            "folder": str(folder),
            "ratings": len(loaded.ratings),
            "created": result.created,
            "updated": result.updated,
            "kept": result.kept,
            "unmapped": loaded.unmapped,
        },
    )
    return SaveResult(result.created, result.updated, result.kept, tuple(loaded.unmapped))


def delete_rating(session: Session, row: RegionRisk) -> None:
    session.delete(row)
    session.flush()


def ratings_for_countries(session: Session, codes: Iterable[str]) -> dict[str, Rating]:
    wanted = sorted({c.strip().upper() for c in codes if c})
    if not wanted:
        return {}
    rows = session.scalars(
        select(RegionRisk).where(RegionRisk.kind == domain.COUNTRY, RegionRisk.code.in_(wanted))
    )
    return {row.code: to_rating(row) for row in rows}


def ratings_for_regions(session: Session, names: Iterable[str]) -> dict[str, Rating]:
    wanted = sorted({n.strip().lower() for n in names if n})
    if not wanted:
        return {}
    rows = session.scalars(
        select(RegionRisk).where(
            RegionRisk.kind == domain.REGION, func.lower(RegionRisk.code).in_(wanted)
        )
    )
    return {row.code.lower(): to_rating(row) for row in rows}
