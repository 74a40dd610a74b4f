"""A vendor manager adds a vendor through the form."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import DEMO_EMAILS, BrowserLog, LiveServer
from vendor_portal.vendors.domain import lei_with_check_digits
from vendor_portal.vendors.models import Vendor


def unique_name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def vendor_count(live_server: LiveServer) -> int:
    return live_server.query(select(func.count(Vendor.id)))[0]


def test_vendor_manager_creates_a_vendor_and_lands_on_its_page(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    name = unique_name("Fjord Freight AS")
    sign_in(DEMO_EMAILS["vendor_manager"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Vendors").click()
    page.get_by_role("link", name="New vendor").click()
    expect(page.get_by_role("heading", name="New vendor")).to_be_visible()

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Country", exact=True).select_option(label="Norway")
    page.get_by_label("Tier", exact=True).select_option(label="High")
    page.get_by_role("button", name="Create vendor").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/vendors/\d+$"))
    expect(page.get_by_test_id("vendor-name")).to_have_text(name)
    expect(page.get_by_role("alert")).to_contain_text(f"Vendor {name} created.")
    expect(page.get_by_text("Norway (NO)")).to_be_visible()
    expect(page.locator(".tier-badge")).to_have_text("high")

    stored = live_server.query(select(Vendor).where(Vendor.name == name))
    assert len(stored) == 1
    vendor = stored[0]
    assert (vendor.country, vendor.tier, vendor.lei) == ("NO", "high", None)
    assert page.url.endswith(f"/vendors/{vendor.id}")
    assert browser_log.problems() == []


def _wrong_check_digits() -> str:
    good = lei_with_check_digits("529900ABCDEFGHIJKL")
    return good[:-2] + f"{(int(good[-2:]) + 1) % 100:02d}"


@pytest.mark.parametrize(
    ("lei", "message"),
    [
        ("5299 00AB", "An LEI has 20 characters; this one has 8."),
        (_wrong_check_digits(), "The LEI's check digits (the last two) do not match"),
    ],
    ids=["too-short", "check-digits"],
)
def test_bad_lei_shows_an_error_next_to_the_field_and_stores_nothing(
    lei: str,
    message: str,
    page: Page,
    sign_in,
    live_server: LiveServer,
    browser_log: BrowserLog,
) -> None:
    name = unique_name("Bad LEI Holdings")
    before = vendor_count(live_server)
    sign_in(DEMO_EMAILS["vendor_manager"])
    page.goto("/vendors/new")

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("LEI", exact=True).fill(lei)
    page.get_by_label("Country", exact=True).select_option(label="Germany")
    page.get_by_label("Tier", exact=True).select_option(label="Medium")
    page.get_by_role("button", name="Create vendor").click()

    expect(page.get_by_role("alert")).to_have_text("Please correct the field marked below.")
    lei_input = page.get_by_label("LEI", exact=True)
    expect(lei_input).to_have_attribute("aria-invalid", "true")
    # "Next to the field": announced with it by screen readers, and drawn right below it.
    expect(lei_input).to_have_accessible_description(re.compile(re.escape(message)))
    error = page.locator("#lei-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(message)
    field_box, error_box = lei_input.bounding_box(), error.bounding_box()
    assert field_box and error_box
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40
    # Only that field is flagged, and what was typed is kept.
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    expect(page.get_by_label("Country", exact=True)).to_have_value("DE")
    expect(page.get_by_label("Tier", exact=True)).to_have_value("medium")

    assert vendor_count(live_server) == before
    assert live_server.query(select(Vendor.id).where(Vendor.name == name)) == []
    assert browser_log.problems() == []
