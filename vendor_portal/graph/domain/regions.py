"""Region risk: natural-hazard and political-instability ratings per country or region.

A rating has, for each of the two hazards, a level (`low`, `medium`, `high`, `very_high`) and,
when it came from a number, a score from 0 (safest) to 100 (riskiest). A region is high-risk when
either level is `high` or worse.

Ratings come from two places:

- a CSV file (`code,name,natural_hazard,political_instability`, optional `kind` and `notes`),
  where each rating is a level word or a score 0-100; checked all or nothing, every problem named
  by line and column;
- the public indices (`load_indices`): the World Bank WGI "Political Stability and Absence of
  Violence" estimate (-2.5 worst .. +2.5 best) and the ND-GAIN exposure and vulnerability to
  climate hazards (0 .. 1, higher worse), latest year per country, mapped from ISO3 to the ISO
  alpha-2 codes the graph uses. Each score is the country's percentile among the countries the
  index rates (0: the least exposed, 100: the most); the natural-hazard score is the mean of the
  exposure and vulnerability percentiles.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pycountry


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def rank(self) -> int:
        return LEVEL_ORDER.index(self)


LEVEL_ORDER = (Level.LOW, Level.MEDIUM, Level.HIGH, Level.VERY_HIGH)
# Lower bounds of each level on the 0-100 score (percentiles for the indices): the riskiest
# 30% of countries are high, the riskiest 10% very high.
LEVEL_FLOORS = ((90.0, Level.VERY_HIGH), (70.0, Level.HIGH), (40.0, Level.MEDIUM))
HIGH_RISK = Level.HIGH

COUNTRY = "country"
REGION = "region"
RATING_KINDS = (COUNTRY, REGION)
HAZARDS = ("natural_hazard", "political_instability")
HAZARD_LABELS = {
    "natural_hazard": "natural hazards",
    "political_instability": "political instability",
}


def level_for(score: float) -> Level:
    for floor, level in LEVEL_FLOORS:
        if score >= floor:
            return level
    return Level.LOW


def worst(levels: Iterable[Level | None]) -> Level | None:
    found = [level for level in levels if level is not None]
    return max(found, key=lambda level: level.rank) if found else None


@dataclass(frozen=True)
class Rating:
    """One region's ratings. `code` is an ISO alpha-2 code for a country, the region's name for
    a region (a cloud region such as eu-west-1, or any named area)."""

    kind: str
    code: str
    name: str
    natural_hazard: Level | None = None
    natural_hazard_score: float | None = None
    political_instability: Level | None = None
    political_instability_score: float | None = None
    source: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return rating_key(self.kind, self.code)

    @property
    def overall(self) -> Level | None:
        return worst((self.natural_hazard, self.political_instability))

    @property
    def high_risk(self) -> bool:
        overall = self.overall
        return overall is not None and overall.rank >= HIGH_RISK.rank

    def summary(self) -> str:
        """`India: political instability high (76/100), natural hazards high (84/100)`."""
        parts = []
        for hazard in HAZARDS:
            level: Level | None = getattr(self, hazard)
            if level is None:
                continue
            score = getattr(self, f"{hazard}_score")
            number = f" ({score:.0f}/100)" if score is not None else ""
            parts.append(f"{HAZARD_LABELS[hazard]} {level.label}{number}")
        return f"{self.name}: " + (", ".join(parts) if parts else "not rated")


def rating_key(kind: str, code: str) -> tuple[str, str]:
    return (kind, code.strip().upper() if kind == COUNTRY else code.strip().lower())


class RatingBook:
    """Ratings by country code and by region name, for looking up where nodes are."""

    def __init__(self, ratings: Iterable[Rating] = ()) -> None:
        self._by_key = {r.key: r for r in ratings}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self):
        return iter(self._by_key.values())

    def country(self, code: str | None) -> Rating | None:
        return self._by_key.get(rating_key(COUNTRY, code)) if code else None

    def region(self, name: str | None) -> Rating | None:
        return self._by_key.get(rating_key(REGION, name)) if name else None

    def for_place(self, kind: str, code: str) -> Rating | None:
        return self._by_key.get(rating_key(kind, code))

    def for_node(self, node: Any) -> list[Rating]:
        """The ratings that apply where a graph node is: its region (a cloud or geographic
        region node rated by name or id) and its country."""
        found = []
        if node.kind in ("cloud_region", "geo_region"):
            for name in (node.name, node.id, node.attributes.get("region")):
                rating = self.region(str(name)) if name else None
                if rating is not None:
                    found.append(rating)
                    break
        rating = self.country(str(node.attributes.get("country") or "") or None)
        if rating is not None:
            found.append(rating)
        return found


# --- CSV import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvProblem:
    line: int | None  # 1 is the header; None: the whole file
    column: str | None
    message: str

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class InvalidRatings(ValueError):
    """The file was not imported; `problems` names every line and column at fault."""

    def __init__(self, problems: list[CsvProblem]) -> None:
        self.problems = problems
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"Nothing was imported ({count}): {shown}{more}.")


CSV_COLUMNS = ("kind", "code", "name", "natural_hazard", "political_instability", "notes")
REQUIRED_COLUMNS = ("code",)
MAX_ROWS = 5000
MAX_NAME = 200


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidRatings(
                [CsvProblem(None, None, f"not UTF-8 text (byte {exc.start} cannot be read)")]
            ) from exc
    if "\x00" in text:  # no database text column can hold it
        raise InvalidRatings([CsvProblem(None, None, "contains a NUL character (U+0000)")])
    return text


def parse_level(raw: str) -> tuple[Level | None, float | None, str | None]:
    """A rating cell: a level word or a score 0-100; (level, score, problem)."""
    text = raw.strip().lower().replace(" ", "_").replace("-", "_")
    if not text:
        return None, None, None
    for level in Level:
        if text == level.value:
            return level, None, None
    try:
        score = float(text)
    except ValueError:
        return (
            None,
            None,
            (
                f"{raw.strip()!r} is neither a level (low, medium, high, very high) "
                "nor a score 0-100"
            ),
        )
    if not 0 <= score <= 100:
        return None, None, f"the score {raw.strip()} is outside 0-100"
    return level_for(score), score, None


def parse_csv(data: str | bytes, source: str = "import") -> list[Rating]:
    """Ratings from a CSV file; InvalidRatings lists every problem (nothing is returned then)."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[CsvProblem] = []
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidRatings([CsvProblem(None, None, "the file is empty")]) from None
    except csv.Error as exc:
        raise InvalidRatings([CsvProblem(1, None, f"unreadable CSV ({exc})")]) from exc
    columns = [h.strip().lower() for h in header]
    for i, name in enumerate(columns):
        if name not in CSV_COLUMNS:
            problems.append(
                CsvProblem(
                    1,
                    header[i].strip() or f"#{i + 1}",
                    f"unknown column; use {', '.join(CSV_COLUMNS)}",
                )
            )
        elif columns.index(name) != i:
            problems.append(CsvProblem(1, name, "the column appears twice"))
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(CsvProblem(1, name, "this column is required"))
    if not any(h in columns for h in HAZARDS):
        problems.append(
            CsvProblem(1, None, "give natural_hazard or political_instability (or both)")
        )
    if problems:
        raise InvalidRatings(problems)
    ratings: list[Rating] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(ratings) >= MAX_ROWS:
                problems.append(CsvProblem(line, None, f"more than {MAX_ROWS} rows"))
                break
            rating = _csv_row(line, columns, cells, source, problems)
            if rating is None:
                continue
            first = seen.setdefault(rating.key, line)
            if first != line:
                problems.append(
                    CsvProblem(line, "code", f"{rating.code} is already rated on line {first}")
                )
                continue
            ratings.append(rating)
    except csv.Error as exc:
        problems.append(CsvProblem(reader.line_num, None, f"unreadable CSV ({exc})"))
    if problems:
        raise InvalidRatings(problems)
    if not ratings:
        raise InvalidRatings([CsvProblem(None, None, "no ratings in the file")])
    return ratings


def _csv_row(
    line: int, columns: list[str], cells: list[str], source: str, problems: list[CsvProblem]
) -> Rating | None:
    if len(cells) > len(columns):
        problems.append(
            CsvProblem(line, None, f"{len(cells)} cells but {len(columns)} columns in the header")
        )
        return None
    values = {columns[i]: cells[i].strip() for i in range(len(cells))}
    before = len(problems)
    kind = (values.get("kind") or COUNTRY).lower()
    if kind not in RATING_KINDS:
        problems.append(CsvProblem(line, "kind", f"{kind!r} is not country or region"))
    code = values.get("code", "")
    name = values.get("name", "")
    if not code:
        problems.append(CsvProblem(line, "code", "a code is required"))
    elif kind == COUNTRY:
        found = _country(code)
        if found is None:
            problems.append(
                CsvProblem(
                    line, "code", f"{code!r} is not an ISO 3166 country code (2 or 3 letters)"
                )
            )
        else:
            code, name = found.alpha_2, name or found.name
    elif len(code) > MAX_NAME:
        problems.append(CsvProblem(line, "code", f"longer than {MAX_NAME} characters"))
    if len(name) > MAX_NAME:
        problems.append(CsvProblem(line, "name", f"longer than {MAX_NAME} characters"))
    levels: dict[str, tuple[Level | None, float | None]] = {}
    for hazard in HAZARDS:
        level, score, problem = parse_level(values.get(hazard, ""))
        if problem:
            problems.append(CsvProblem(line, hazard, problem))
        levels[hazard] = (level, score)
    if all(levels[h][0] is None for h in HAZARDS) and len(problems) == before:
        problems.append(
            CsvProblem(line, None, "rate natural_hazard or political_instability (or both)")
        )
    if len(problems) > before:
        return None
    notes = values.get("notes", "")
    return Rating(
        kind=kind,
        code=code,
        name=name or code,
        natural_hazard=levels["natural_hazard"][0],
        natural_hazard_score=levels["natural_hazard"][1],
        political_instability=levels["political_instability"][0],
        political_instability_score=levels["political_instability"][1],
        source=source,
        details={"notes": notes[:1000]} if notes else {},
    )


def _country(code: str) -> Any:
    code = code.strip().upper()
    if len(code) == 2:
        return pycountry.countries.get(alpha_2=code)
    if len(code) == 3:
        return pycountry.countries.get(alpha_3=code)
    return None


def to_csv(ratings: Iterable[Rating]) -> str:
    """The CSV the importer reads (levels and scores as the cells)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in ratings:
        writer.writerow(
            [
                r.kind,
                r.code,
                r.name,
                _cell(r.natural_hazard, r.natural_hazard_score),
                _cell(r.political_instability, r.political_instability_score),
                r.details.get("notes", ""),
            ]
        )
    return out.getvalue()


def _cell(level: Level | None, score: float | None) -> str:
    if score is not None:
        return f"{score:g}"
    return level.value if level else ""


# --- the public indices ----------------------------------------------------------------------

WGI_FILE = "wgi_2023update/wgi_political_stability_PV_EST_1996-2022.csv"
NDGAIN_EXPOSURE = "nd_gain_2022release/exposure.csv"
NDGAIN_VULNERABILITY = "nd_gain_2022release/vulnerability.csv"
INDEX_FILES = (WGI_FILE, NDGAIN_EXPOSURE, NDGAIN_VULNERABILITY)
INDICES_SOURCE = "indices"


class IndexFileError(ValueError):
    """An index file is missing or not in the expected shape; the message says which."""


@dataclass(frozen=True)
class IndexValue:
    year: int
    value: float


def _year(column: str) -> int:
    return int(column.strip())


def latest_values(text: str, label: str) -> dict[str, IndexValue]:
    """ISO3 -> the latest year's value, from a wide CSV (an ISO3 column and one column a year)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = reader.fieldnames or []
    iso_column = next((f for f in fields if f.strip().lower() == "iso3"), None)
    # ASCII digits only: "²" is a digit to isdigit() but not to int().
    years = sorted((f for f in fields if f.strip().isascii() and f.strip().isdigit()), key=_year)
    if iso_column is None or not years:
        raise IndexFileError(f"{label}: expected an ISO3 column and one column per year")
    out: dict[str, IndexValue] = {}
    for row in reader:
        code = (row.get(iso_column) or "").strip().upper()
        if len(code) != 3:
            continue
        for year in reversed(years):
            raw = (row.get(year) or "").strip()
            if raw and raw.upper() not in ("NA", "..", "N/A"):
                try:
                    out[code] = IndexValue(_year(year), float(raw))
                except ValueError as exc:
                    raise IndexFileError(
                        f"{label}: {code} {year} is {raw!r}, not a number"
                    ) from exc
                break
    if not out:
        raise IndexFileError(f"{label}: no values")
    return out


def percentiles(values: Mapping[str, float], higher_is_worse: bool) -> dict[str, float]:
    """Each code's share (0-100) of the other codes with a lower risk; ties share the rank."""
    ordered = sorted(values.values())
    n = len(ordered)
    if n < 2:
        return dict.fromkeys(values, 50.0)
    out = {}
    for code, value in values.items():
        if higher_is_worse:
            safer = bisect.bisect_left(ordered, value)
        else:
            safer = n - bisect.bisect_right(ordered, value)
        out[code] = round(100.0 * safer / (n - 1), 1)
    return out


@dataclass(frozen=True)
class IndexLoad:
    ratings: list[Rating]
    unmapped: list[str]  # ISO3 codes with no ISO alpha-2 country (Kosovo, historical codes)
    years: dict[str, int]  # index -> latest year seen


def ratings_from_indices(
    political: Mapping[str, IndexValue],
    exposure: Mapping[str, IndexValue],
    vulnerability: Mapping[str, IndexValue],
) -> IndexLoad:
    """Country ratings from the three indices (ISO3 keyed); see the module's docstring."""
    political_pct = percentiles({k: v.value for k, v in political.items()}, False)
    exposure_pct = percentiles({k: v.value for k, v in exposure.items()}, True)
    vulnerability_pct = percentiles({k: v.value for k, v in vulnerability.items()}, True)
    ratings: list[Rating] = []
    unmapped: list[str] = []
    for iso3 in sorted(set(political) | set(exposure) | set(vulnerability)):
        country = pycountry.countries.get(alpha_3=iso3)
        if country is None:
            unmapped.append(iso3)
            continue
        hazard_parts = [p[iso3] for p in (exposure_pct, vulnerability_pct) if iso3 in p]
        hazard = round(sum(hazard_parts) / len(hazard_parts), 1) if hazard_parts else None
        politics = political_pct.get(iso3)
        details: dict[str, Any] = {"iso3": iso3}
        if iso3 in political:
            details["wgi_political_stability"] = round(political[iso3].value, 4)
            details["wgi_year"] = political[iso3].year
        if iso3 in exposure:
            details["ndgain_exposure"] = round(exposure[iso3].value, 4)
            details["ndgain_exposure_year"] = exposure[iso3].year
        if iso3 in vulnerability:
            details["ndgain_vulnerability"] = round(vulnerability[iso3].value, 4)
            details["ndgain_vulnerability_year"] = vulnerability[iso3].year
        ratings.append(
            Rating(
                kind=COUNTRY,
                code=country.alpha_2,
                name=getattr(country, "common_name", None) or country.name,
                natural_hazard=level_for(hazard) if hazard is not None else None,
                natural_hazard_score=hazard,
                political_instability=level_for(politics) if politics is not None else None,
                political_instability_score=politics,
                source=INDICES_SOURCE,
                details=details,
            )
        )
    years = {
        "wgi": max((v.year for v in political.values()), default=0),
        "ndgain_exposure": max((v.year for v in exposure.values()), default=0),
        "ndgain_vulnerability": max((v.year for v in vulnerability.values()), default=0),
    }
    return IndexLoad(ratings, unmapped, years)


def load_indices(folder: Path) -> IndexLoad:
    """Read the three index files under `folder` (the shared data's country_risk folder)."""
    missing = [name for name in INDEX_FILES if not (folder / name).is_file()]
    if missing:
        raise IndexFileError(f"{folder}: missing {', '.join(missing)}")

    def read(name: str) -> dict[str, IndexValue]:
        return latest_values((folder / name).read_text(encoding="utf-8-sig"), name)

    return ratings_from_indices(read(WGI_FILE), read(NDGAIN_EXPOSURE), read(NDGAIN_VULNERABILITY))
