"""Signing in through the login page: each role lands on its own home page."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_EMAILS, BrowserLog, LiveServer, fill_login

NAV_LINKS = ("Vendors", "My company", "Audit log", "Users")


@dataclass(frozen=True)
class Expected:
    name: str
    label: str
    nav: tuple[str, ...]  # the role's links in the main navigation, besides Home
    task: str  # a card under "What needs doing" that only some roles get
    vendor: str | None = None


HOMES = {
    "admin": Expected(
        "Alex Admin", "Administrator", ("Vendors", "Audit log", "Users"), "Review recent changes"
    ),
    "vendor_manager": Expected(
        "Morgan Vendor-Manager", "Vendor manager", ("Vendors",), "Name a continuity lead"
    ),
    "procurement": Expected(
        "Pat Procurement", "Procurement", ("Vendors",), "Onboard prospective vendors"
    ),
    "auditor": Expected(
        "Avery Auditor", "Auditor", ("Vendors", "Audit log"), "Review recent changes"
    ),
    "vendor_user": Expected(
        "Nia Nimbus",
        "Vendor user",
        ("My company",),
        "Check your company profile",
        vendor="Nimbus Cloud Services",
    ),
}


@pytest.mark.parametrize("role", list(HOMES))
def test_each_role_signs_in_and_sees_its_home_page(
    role: str, page: Page, sign_in, browser_log: BrowserLog
) -> None:
    expected = HOMES[role]
    sign_in(DEMO_EMAILS[role])

    expect(page).to_have_title("Home · Vendor Portal")
    expect(page.get_by_role("heading", name=f"Hello, {expected.name}")).to_be_visible()
    expect(page.get_by_role("heading", name="What needs doing")).to_be_visible()
    menu = page.get_by_test_id("user-menu")
    expect(menu).to_contain_text(expected.name)
    expect(menu.locator(".badge")).to_have_text(expected.label)

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Home", exact=True)).to_be_visible()
    for link in NAV_LINKS:
        expect(nav.get_by_role("link", name=link, exact=True)).to_have_count(
            1 if link in expected.nav else 0
        )

    tasks = page.get_by_test_id("tasks")
    expect(tasks.get_by_role("heading", name=expected.task)).to_be_visible()
    if expected.vendor:
        expect(page.get_by_text(f"{expected.label} · {expected.vendor}")).to_be_visible()
        expect(page.get_by_role("heading", name="Vendors by tier")).to_have_count(0)
    else:
        expect(page.get_by_role("heading", name="Vendors by tier")).to_be_visible()
    assert browser_log.problems() == []


def test_vendor_users_my_company_link_opens_their_own_vendor(page: Page, sign_in) -> None:
    sign_in(DEMO_EMAILS["vendor_user"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My company").click()
    expect(page.get_by_test_id("vendor-name")).to_have_text("Nimbus Cloud Services")


def test_signing_in_from_a_deep_link_returns_to_it(page: Page, live_server: LiveServer) -> None:
    from vendor_portal.demo.seed import DEMO_PASSWORD

    vendor_path = f"/vendors/{live_server.vendor_ids['Ledgerline Payments']}"
    page.goto(vendor_path)
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    expect(page.get_by_role("alert")).to_contain_text("Please sign in to continue.")
    page.get_by_label("Email", exact=True).fill(DEMO_EMAILS["procurement"])
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url + vendor_path)
    expect(page.get_by_test_id("vendor-name")).to_have_text("Ledgerline Payments")


STACK_TRACE_MARKERS = ("Traceback", 'File "', "sqlalchemy", "werkzeug", "Exception", ".py")


@pytest.mark.parametrize(
    "email",
    [DEMO_EMAILS["procurement"], "nobody@example.com"],
    ids=["known-account", "unknown-account"],
)
def test_wrong_password_shows_an_error_and_no_stack_trace(
    email: str, page: Page, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    fill_login(page, email, "not-the-password-at-all")

    error = page.get_by_test_id("login-error")
    # The same words for an unknown account as for a wrong password: no account discovery.
    expect(error).to_have_text("Wrong email or password.")
    expect(error).to_have_attribute("role", "alert")
    expect(page).to_have_url(f"{live_server.url}/auth/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_have_count(0)
    # The email stays for a second try; the password does not come back from the server.
    expect(page.get_by_label("Email", exact=True)).to_have_value(email)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")

    html = page.content()
    for marker in STACK_TRACE_MARKERS:
        assert marker not in html, f"{marker!r} on the login error page"
    assert browser_log.problems(expected_statuses=(401,)) == []
