"""The register's vendor filter: every live vendor by name, the chosen one selected, and it
follows changes to the vendor register (its options are built once per state of the table)."""

import re

from vendor_portal.db import utcnow


def _options(page: str) -> list[tuple[str, str, bool]]:
    select = re.search(r'<select[^>]*id="vendor".*?</select>', page, re.S).group(0)
    return [
        (value, name, bool(selected))
        for value, selected, name in re.findall(
            r'<option value="(\d+)"( selected)?>([^<]*)</option>', select
        )
    ]


def test_vendor_filter_lists_live_vendors_and_marks_the_chosen_one(client, auth, build, session):
    beta, acme = build.vendor(name="Beta & Co"), build.vendor(name="Acme")
    gone = build.vendor(name="Gone Ltd")
    gone.archived_at = utcnow()
    session.commit()
    auth.login_as("vendor_manager")

    assert _options(client.get("/findings/").text) == [
        (str(acme.id), "Acme", False),
        (str(beta.id), "Beta &amp; Co", False),
    ]
    chosen = _options(client.get(f"/findings/?vendor={beta.id}").text)
    assert [selected for _, _, selected in chosen] == [False, True]


def test_vendor_filter_follows_new_renamed_and_archived_vendors(client, auth, build, session):
    acme = build.vendor(name="Acme")
    auth.login_as("vendor_manager")
    assert [name for _, name, _ in _options(client.get("/findings/").text)] == ["Acme"]

    build.vendor(name="Zeta")
    assert [name for _, name, _ in _options(client.get("/findings/").text)] == ["Acme", "Zeta"]

    acme.name = "Omega"
    session.commit()
    assert [name for _, name, _ in _options(client.get("/findings/").text)] == ["Omega", "Zeta"]

    acme.archived_at = utcnow()
    session.commit()
    assert [name for _, name, _ in _options(client.get("/findings/").text)] == ["Zeta"]


def test_vendor_users_get_no_vendor_filter(client, auth, build):
    own = build.vendor(name="Own")
    build.vendor(name="Other")
    auth.login_as("vendor_user", vendor=own)
    page = client.get("/findings/")
    assert page.status_code == 200 and 'id="vendor"' not in page.text and "Other" not in page.text
