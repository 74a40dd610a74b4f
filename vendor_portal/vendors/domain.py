"""Vendor rules that need no database: tiers, statuses, LEI and country codes."""

from __future__ import annotations

import string
from enum import StrEnum
from functools import cache

import pycountry


class Tier(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class VendorStatus(StrEnum):
    PROSPECTIVE = "prospective"
    ACTIVE = "active"
    OFFBOARDING = "offboarding"
    OFFBOARDED = "offboarded"


TIER_ORDER = {Tier.CRITICAL: 0, Tier.HIGH: 1, Tier.MEDIUM: 2, Tier.LOW: 3}
_LEI_CHARS = set(string.digits + string.ascii_uppercase)


def lei_checksum_ok(lei: str) -> bool:
    """ISO 17442: 20 alphanumerics whose base-36 digits, read as a number, are 1 mod 97."""
    if len(lei) != 20 or not set(lei) <= _LEI_CHARS:
        return False
    digits = "".join(str(int(ch, 36)) for ch in lei)
    return int(digits) % 97 == 1


def lei_problem(lei: str) -> str | None:
    if len(lei) != 20:
        return f"An LEI has 20 characters; this one has {len(lei)}."
    if not set(lei) <= _LEI_CHARS:
        return "An LEI has only digits and capital letters."
    if not lei_checksum_ok(lei):
        return "The LEI's check digits (the last two) do not match; check for a typing error."
    return None


def lei_with_check_digits(base18: str) -> str:
    """Complete an 18-character LEI prefix with its ISO 7064 MOD 97-10 check digits."""
    digits = "".join(str(int(ch, 36)) for ch in base18.upper() + "00")
    return f"{base18.upper()}{98 - int(digits) % 97:02d}"


@cache
def _country_names() -> dict[str, str]:
    return {c.alpha_2: c.name for c in pycountry.countries}


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return _country_names().get(code, code)


@cache
def country_choices() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: pair[1])
    )


def country_problem(code: str) -> str | None:
    if pycountry.countries.get(alpha_2=code.upper()) is None:
        return f"{code!r} is not an ISO 3166 two-letter country code."
    return None


def normalise_lei(value: str | None) -> str | None:
    value = (value or "").strip().upper().replace(" ", "")
    return value or None


FIELD_LIMITS = {"name": 200, "website": 300, "description": 5000, "notes": 5000}


def validate_vendor_input(
    data: dict[str, object], partial: bool = False
) -> tuple[dict[str, object], dict[str, str]]:
    """Check vendor fields from any source (API JSON, import rows).

    Returns the clean values and the errors by field name."""
    clean: dict[str, object] = {}
    errors: dict[str, str] = {}
    required = () if partial else ("name", "tier", "country")
    for key in required:
        if data.get(key) in (None, ""):
            errors[key] = "This field is required."
    for key, value in data.items():
        if key in errors:
            continue
        if value is not None and not isinstance(value, str):
            errors[key] = "Must be a string."
            continue
        text = (value or "").strip()
        if key == "name":
            if len(text) > FIELD_LIMITS["name"]:
                errors[key] = f"At most {FIELD_LIMITS['name']} characters."
            elif text:
                clean[key] = text
        elif key == "tier":
            if text not in {t.value for t in Tier}:
                errors[key] = f"Must be one of {', '.join(t.value for t in Tier)}."
            else:
                clean[key] = text
        elif key == "status":
            if text and text not in {s.value for s in VendorStatus}:
                errors[key] = f"Must be one of {', '.join(s.value for s in VendorStatus)}."
            elif text:
                clean[key] = text
        elif key == "country":
            problem = country_problem(text) if text else None
            if problem:
                errors[key] = problem
            elif text:
                clean[key] = text.upper()
        elif key == "lei":
            lei = normalise_lei(text)
            problem = lei_problem(lei) if lei else None
            if problem:
                errors[key] = problem
            else:
                clean[key] = lei
        elif key in ("website", "description", "notes"):
            if len(text) > FIELD_LIMITS[key]:
                errors[key] = f"At most {FIELD_LIMITS[key]} characters."
            else:
                clean[key] = text or None
        else:
            errors[key] = "Unknown field."
    return clean, errors


class ServiceType(StrEnum):
    CLOUD_IAAS = "cloud_iaas"
    SAAS = "saas"
    NETWORK = "network"
    DATA_CENTRE = "data_centre"
    HARDWARE = "hardware"
    SOFTWARE_SUPPORT = "software_support"
    BUSINESS_PROCESS = "business_process"
    LOGISTICS = "logistics"
    PROFESSIONAL_SERVICES = "professional_services"
    OTHER = "other"

    @property
    def label(self) -> str:
        return SERVICE_TYPE_LABELS[self]


SERVICE_TYPE_LABELS = {
    ServiceType.CLOUD_IAAS: "Cloud hosting / IaaS",
    ServiceType.SAAS: "SaaS application",
    ServiceType.NETWORK: "Network / telecom",
    ServiceType.DATA_CENTRE: "Data centre / colocation",
    ServiceType.HARDWARE: "Hardware supply and support",
    ServiceType.SOFTWARE_SUPPORT: "Software licence and support",
    ServiceType.BUSINESS_PROCESS: "Business process outsourcing",
    ServiceType.LOGISTICS: "Logistics",
    ServiceType.PROFESSIONAL_SERVICES: "Professional services",
    ServiceType.OTHER: "Other",
}
MAX_RECOVERY_HOURS = 24 * 365


def _hours(value: object, key: str, errors: dict[str, str]) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors[key] = "Must be a number of hours."
        return None
    try:
        hours = float(value)
    except ValueError:
        errors[key] = "Must be a number of hours."
        return None
    if not 0 <= hours <= MAX_RECOVERY_HOURS:
        errors[key] = f"Must be between 0 and {MAX_RECOVERY_HOURS} hours."
        return None
    return hours


def parse_code_list(value: object) -> list[str]:
    """A list of codes from a JSON list or a comma/space separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.replace(";", ",").replace(" ", ",").split(",")
    elif isinstance(value, list):
        parts = [str(v) for v in value]
    else:
        raise ValueError("Must be a list.")
    return [p.strip() for p in parts if p.strip()]


def country_codes(value: object) -> tuple[list[str], str | None]:
    """ISO country codes from a list or a comma/space separated string; (codes, problem)."""
    try:
        codes = sorted({c.upper() for c in parse_code_list(value)})
    except ValueError as exc:
        return [], str(exc)
    bad = [c for c in codes if country_problem(c)]
    if bad:
        return codes, f"Not ISO 3166 two-letter country codes: {', '.join(bad)}."
    return codes, None


def country_codes_problem(value: object) -> str | None:
    return country_codes(value)[1]


def validate_service_input(
    data: dict[str, object], partial: bool = False
) -> tuple[dict[str, object], dict[str, str]]:
    """Check vendor-service fields from any source; (clean values, errors by field)."""
    clean: dict[str, object] = {}
    errors: dict[str, str] = {}
    if not partial and not data.get("name"):
        errors["name"] = "This field is required."
    for key, value in data.items():
        if key in errors:
            continue
        if key == "name":
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
                errors[key] = "A name of 1 to 200 characters is required."
            else:
                clean[key] = value.strip()
        elif key == "service_type":
            if value not in {t.value for t in ServiceType}:
                errors[key] = f"Must be one of {', '.join(t.value for t in ServiceType)}."
            else:
                clean[key] = value
        elif key == "description":
            if value is not None and (not isinstance(value, str) or len(value) > 5000):
                errors[key] = "At most 5000 characters of text."
            else:
                clean[key] = (value or "").strip() or None
        elif key in ("attested_rto_hours", "attested_rpo_hours"):
            clean[key] = _hours(value, key, errors)
        elif key == "hosting_countries":
            codes, problem = country_codes(value)
            if problem:
                errors[key] = problem
            else:
                clean[key] = codes
        elif key == "cloud_regions":
            try:
                regions = parse_code_list(value)
            except ValueError as exc:
                errors[key] = str(exc)
                continue
            if any(len(r) > 64 for r in regions):
                errors[key] = "Region names have at most 64 characters."
            else:
                clean[key] = sorted(set(regions))
        else:
            errors[key] = "Unknown field."
    if not partial:
        clean.setdefault("service_type", ServiceType.OTHER.value)
    return clean, errors
