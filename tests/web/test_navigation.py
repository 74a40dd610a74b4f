"""The menu bar: entries by role, the current area marked, a vendor user's own company. The menu
is rendered once per role, page and vendor and reused (navigation.main_nav): these check that
a reused menu is always the one of this user and this page."""

import re


def _menu(page: str) -> str:
    return re.search(r'<ul class="navbar-nav me-auto">.*?\n      </ul>', page, re.S).group(0)


def _active(menu: str) -> list[str]:
    return re.findall(
        r'class="(?:nav-link|dropdown-item|nav-link dropdown-toggle) active"[^>]*>([^<]+)<', menu
    )


def test_the_current_area_is_marked_on_each_page(client, auth):
    auth.login_as("vendor_manager")
    assert _active(_menu(client.get("/vendors/").text)) == ["Vendors"]
    assert _active(_menu(client.get("/findings/").text)) == ["Resilience", "Findings"]
    assert _active(_menu(client.get("/").text)) == ["Home"]
    # The same pages again, now from the kept menus.
    assert _active(_menu(client.get("/findings/").text)) == ["Resilience", "Findings"]
    assert _active(_menu(client.get("/vendors/").text)) == ["Vendors"]


def test_each_role_sees_its_own_entries(client, auth):
    auth.login_as("admin")
    admin_menu = _menu(client.get("/vendors/").text)
    assert "Audit log" in admin_menu and ">Users<" in admin_menu
    auth.logout()

    auth.login_as("vendor_manager")
    manager_menu = _menu(client.get("/vendors/").text)
    assert "Audit log" not in manager_menu and ">Users<" not in manager_menu
    assert ">Vendors<" in manager_menu
    auth.logout()

    auth.login_as("auditor")
    auditor_menu = _menu(client.get("/vendors/").text)
    assert "Audit log" in auditor_menu and ">Users<" not in auditor_menu


def test_vendor_users_get_their_own_company(client, auth, build):
    first, second = build.vendor(name="First Ltd"), build.vendor(name="Second Ltd")
    auth.login_as("vendor_user", vendor=first)
    menu = _menu(client.get("/").text)
    assert f'href="/vendors/{first.id}">My company<' in menu and ">Vendors<" not in menu
    auth.logout()

    auth.login_as("vendor_user", vendor=second)
    menu = _menu(client.get("/").text)
    assert f'href="/vendors/{second.id}">My company<' in menu
    assert f"/vendors/{first.id}" not in menu
