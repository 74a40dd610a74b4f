"""The contract list: clause counts from the database, pages, search and the export."""

import re

from sqlalchemy import select

from vendor_portal.contracts.models import Contract, Obligation


def contract(session, vendor, title, clauses=()):
    item = Contract(vendor_id=vendor.id, title=title, status="draft", clauses=list(clauses))
    session.add(item)
    session.commit()
    return item


def rows(page: str) -> list[tuple[str, str, str]]:
    """(title, vendor, clause count) of each row."""
    return re.findall(
        r'<tr><td><a href="/contracts/\d+">([^<]+)</a></td><td>([^<]+)</td>'
        r"<td>[^<]*</td><td>[^<]*</td><td>[^<]*</td><td>(\d+)</td></tr>",
        page,
    )


def test_list_counts_clauses_pages_and_searches(client, auth, build, session):
    library = list(session.scalars(select(Obligation).order_by(Obligation.id)))
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    contract(session, acme, "None")
    contract(session, acme, "Two", library[:2])
    contract(session, beta, "All", library)
    contract(session, beta, "One", library[3:4])
    auth.login_as("procurement")

    everything = rows(client.get("/contracts/").text)
    assert everything == [
        ("One", "Beta", "1"),
        ("All", "Beta", str(len(library))),
        ("Two", "Acme", "2"),
        ("None", "Acme", "0"),
    ]
    paged = []
    for number in (1, 2):
        page = client.get(f"/contracts/?per_page=3&page={number}").text
        assert "of 4</div>" in page
        paged += rows(page)
    assert paged == everything
    by_vendor = client.get("/contracts/?q=beta&sort=title").text
    assert rows(by_vendor) == [("All", "Beta", str(len(library))), ("One", "Beta", "1")]
    assert "of 2</div>" in by_vendor


def test_export_lists_each_contracts_clause_codes(client, auth, build, session):
    library = list(session.scalars(select(Obligation).order_by(Obligation.id)))
    contract(session, build.vendor(name="Acme"), "Two", library[:2])
    auth.login_as("procurement")
    lines = client.get("/contracts/?export=csv").text.strip().splitlines()
    assert lines[1].endswith(f'"{library[0].code}, {library[1].code}"')


def test_a_new_clause_is_counted_on_the_next_request(client, auth, build, session):
    library = list(session.scalars(select(Obligation).order_by(Obligation.id)))
    item = contract(session, build.vendor(name="Acme"), "Grows", library[:1])
    auth.login_as("procurement")
    assert rows(client.get("/contracts/").text) == [("Grows", "Acme", "1")]
    item.clauses.append(library[1])
    session.commit()
    assert rows(client.get("/contracts/").text) == [("Grows", "Acme", "2")]
