"""The register's vendor filter: a field for part of the vendor's name (a list of every vendor
made the page hundreds of kilobytes on a large portfolio), and links from elsewhere that name
one vendor by id, shown and removable."""

import re

from tests.findings_factories import finding
from vendor_portal.db import utcnow


def titles(page: str) -> list[str]:
    return sorted(re.findall(r'<a href="/findings/\d+">([^<]+)</a>', page))


def test_the_filter_is_a_name_field_not_a_list_of_every_vendor(client, auth, build):
    build.vendor(name="Acme")
    auth.login_as("vendor_manager")
    page = client.get("/findings/").text
    assert re.search(r'<input[^>]*type="search"[^>]*id="vendor_name"[^>]*name="vendor_name"', page)
    assert 'id="vendor"' not in page and "Acme" not in page


def test_vendor_name_filter_matches_part_of_the_name_in_any_case(client, auth, build, session):
    acme, beta = build.vendor(name="Acme Payments"), build.vendor(name="Beta & Co")
    gone = build.vendor(name="Acme Archive")
    finding(session, acme, title="Acme finding")
    finding(session, beta, title="Beta finding")
    finding(session, gone, title="Archived vendor finding")
    gone.archived_at = utcnow()
    session.commit()
    auth.login_as("vendor_manager")

    page = client.get("/findings/?vendor_name=acme").text
    assert titles(page) == ["Acme finding", "Archived vendor finding"]
    assert 'value="acme"' in page  # the field keeps what was typed
    assert titles(client.get("/findings/?vendor_name=%26+co").text) == ["Beta finding"]
    assert titles(client.get("/findings/?vendor_name=nobody").text) == []
    # Wildcards are matched as themselves, not as patterns.
    assert titles(client.get("/findings/?vendor_name=%25").text) == []
    assert titles(client.get("/findings/?vendor_name=A_me").text) == []


def test_a_link_to_one_vendors_findings_shows_the_vendor_and_keeps_it(client, auth, build, session):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    finding(session, acme, title="Acme finding", severity="high")
    finding(session, beta, title="Beta finding", severity="high")
    session.commit()
    auth.login_as("vendor_manager")

    page = client.get(f"/findings/?vendor={beta.id}&severity=high").text
    assert titles(page) == ["Beta finding"]
    chosen = re.search(r'data-testid="vendor-chosen">(.*?)</p>', page, re.S).group(1)
    assert "<strong>Beta</strong>" in chosen
    # Filtering again keeps the vendor; the link drops it and keeps the other filters.
    assert f'<input type="hidden" name="vendor" value="{beta.id}">' in page
    every = re.search(r'<a href="([^"]+)">Show every vendor', chosen).group(1)
    assert "vendor=" not in every and "severity=high" in every
    assert titles(client.get(every.replace("&amp;", "&")).text) == [
        "Acme finding",
        "Beta finding",
    ]


def test_vendor_users_get_no_vendor_filter(client, auth, build, session):
    own, other = build.vendor(name="Own"), build.vendor(name="Other")
    finding(session, own, title="Mine")
    finding(session, other, title="Theirs")
    session.commit()
    auth.login_as("vendor_user", vendor=own)
    page = client.get("/findings/")
    assert page.status_code == 200 and 'id="vendor_name"' not in page.text
    assert "Other" not in page.text
    # Naming another vendor shows nothing of it.
    assert titles(client.get(f"/findings/?vendor={other.id}").text) == []
    assert "Other" not in client.get(f"/findings/?vendor={other.id}").text
    assert titles(client.get("/findings/?vendor_name=oth").text) == []
