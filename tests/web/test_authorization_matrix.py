"""The authorization matrix: every route the app registers, for every kind of person.

Each (endpoint, method) is requested by anonymous, every internal role and the users of two
vendors, with real ids of vendor A's objects, and the answer is compared with the explicit table
in authorization_table.py. A route without an entry fails. Refused POSTs carry a valid CSRF token
(so that only the authorization check can stop them) and must change nothing in the database;
allowed POSTs carry none, so the form refuses them after the authorization check and the data
stays as built. Lists, exports and API answers shown to vendor B must not mention vendor A.
"""

from __future__ import annotations

import inspect
import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import base_config, reset_postgres
from tests.factories import DEFAULT_PASSWORD
from tests.web.authorization_table import ALLOWED, ANY, LOGIN, TABLE, rule_for
from tests.web.authorization_world import PRINCIPALS, VENDOR_A_NAME, World, build_world

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# After the authorization check, a request may still be refused for its content.
CONTENT_REFUSALS = frozenset({400, 409, 415, 422})
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _route_app() -> Flask:
    """An app to read the URL map from (no database needed)."""
    from vendor_portal import create_app

    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "sqlite://",
            "WTF_CSRF_ENABLED": False,
        }
    )


def registered_routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route; reads first, so writes cannot disturb them."""
    routes = set()
    for url_rule in _route_app().url_map.iter_rules():
        for method in url_rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((url_rule.endpoint, method, url_rule.rule))
    return sorted(routes, key=lambda r: (r[1] in MUTATING, r[0], r[1], r[2]))


ROUTES = registered_routes()


def test_every_route_has_an_entry_and_every_entry_a_route():
    missing = sorted({f"{e} {m}" for e, m, _ in ROUTES if rule_for(e, m) is None})
    assert not missing, "Routes without an entry in tests/web/authorization_table.py: " + ", ".join(
        missing
    )
    endpoints = {e for e, _, _ in ROUTES}
    stale = sorted(set(TABLE) - endpoints)
    assert not stale, f"Table entries for routes that no longer exist: {stale}"


# --- the world and the people ----------------------------------------------------------------


def _new_declaration(session: Session, world: World) -> int:
    from vendor_portal.subcontracting import services
    from vendor_portal.vendors.models import Vendor

    vendor = session.get(Vendor, world.vendor_a_id)
    declaration = services.declare(
        session, vendor, name=f"Removable {session.info.setdefault('n', 0)}", country="FR"
    )
    session.info["n"] += 1
    session.commit()
    return declaration.id


# Routes whose allowed request consumes its object (the API has no CSRF token to withhold):
# each allowed principal gets a fresh one, made by these builders.
FRESH_OBJECTS = {"api.remove_subcontractor": ("declaration_id", _new_declaration)}


def url_args(endpoint: str, arguments: set[str], ids: dict[str, Any]) -> dict[str, Any]:
    """Values for a rule's URL arguments: ids of vendor A's objects, by name and blueprint."""
    blueprint = endpoint.split(".")[0]
    values: dict[str, Any] = {}
    for name in arguments:
        if name == "version_id":
            key = "template_version_id" if blueprint == "questionnaires" else "evidence_version_id"
        elif name == "service_id":
            business = blueprint == "graph" or "business_service" in endpoint
            key = "business_service_id" if business else "vendor_service_id"
        elif name == "item_id":
            key = "evidence_item_id" if blueprint == "evidence" else "review_item_id"
        elif name == "evidence_id":
            key = "finding_evidence_id"
        elif name == "number":
            key = "round_number"
        elif name == "token_id":
            key = "api_token_id"
        elif name == "token":
            key = {
                "auth.accept_invite": "invite_token",
                "kpis.map_upload": "upload_token",
                "exercises.feed": "feed_token",
            }[endpoint]
        elif name == "filename":
            values[name] = "css/app.css"
            continue
        else:
            key = name
        values[name] = ids[key]
    return values


@dataclass
class Person:
    client: FlaskClient
    csrf_token: str
    email: str | None = None


@dataclass
class Matrix:
    app: Flask
    world: World
    people: dict[str, Person]
    engine: sa.Engine

    def sign_in_everyone(self) -> None:
        self.people = {p: self._person(p) for p in PRINCIPALS}

    def _person(self, principal: str) -> Person:
        client = self.app.test_client()
        if principal == "anonymous":
            return Person(client, _csrf_from(client, "/auth/login"))
        email = self.world.users[principal].email
        token = _csrf_from(client, "/auth/login")
        response = client.post(
            "/auth/login",
            data={"email": email, "password": DEFAULT_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.text
        return Person(client, _csrf_from(client, "/auth/password"), email)


def _csrf_from(client: FlaskClient, path: str) -> str:
    found = CSRF_INPUT.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    tmp_path = tmp_path_factory.mktemp("matrix")
    if request.param == "sqlite":
        path = tmp_path / "matrix.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_migrated")
    config = base_config(tmp_path, url)
    # Forms check their CSRF token, the global check is off: refused principals send a valid
    # token, allowed ones none (their form is refused after the authorization check).
    config.update(WTF_CSRF_ENABLED=True, WTF_CSRF_CHECK_DEFAULT=False, RATELIMIT_ENABLED=False)
    app = create_app(config)
    with app.app_context():
        if url.startswith("postgresql"):
            reset_postgres(app)
        engine = db.engine
    with Session(engine, expire_on_commit=False) as session:
        world = build_world(session, app)
    matrix = Matrix(app, world, {}, engine)
    matrix.sign_in_everyone()
    yield matrix
    with app.app_context():
        db.engine.dispose()


def fingerprint(engine: sa.Engine) -> tuple:
    """Row counts of every table and the newest audit entry: a refused request changes none."""
    from vendor_portal.extensions import db

    with engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        counts = [
            sa.select(sa.func.count()).select_from(t).scalar_subquery()
            for t in db.metadata.sorted_tables
            if t.name in existing
        ]
        last_audit = sa.text("(SELECT max(id) FROM audit_entry)")
        return tuple(conn.execute(sa.select(*counts, last_audit)).one())


# --- asking and judging -------------------------------------------------------------------------


def classify(response, method: str) -> str | int:
    status = response.status_code
    location = urlsplit(response.headers.get("Location", "")).path
    if status in (301, 302, 303, 307, 308) and location == "/auth/login":
        return LOGIN
    if status < 400 or (method in MUTATING and status in CONTENT_REFUSALS):
        return ALLOWED
    return status


def visible_text(response) -> bytes:
    """What a person could read in the answer (the sheets of an XLSX, too)."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    return data


def send(matrix: Matrix, principal: str, method: str, path: str, api: bool, refused: bool):
    person = matrix.people[principal]
    if api:
        headers = {}
        if principal != "anonymous":
            headers["Authorization"] = f"Bearer {matrix.world.tokens[principal]}"
        client = matrix.app.test_client()  # no cookies: the API knows bearer tokens only
        kwargs: dict[str, Any] = {"headers": headers}
        if method in MUTATING and refused:
            kwargs["json"] = {}
        return client.open(path, method=method, **kwargs)
    data = {"csrf_token": person.csrf_token} if method in MUTATING and refused else {}
    return person.client.open(path, method=method, data=data)


def export_variants(matrix: Matrix, endpoint: str, method: str) -> list[str]:
    """Query strings to try: the page itself and, for list pages, its CSV and XLSX exports."""
    if method != "GET":
        return [""]
    view = inspect.unwrap(matrix.app.view_functions[endpoint])
    source = inspect.getsource(view)
    if "export_response" not in source:
        return [""]
    if 'args.get("format"' in source:
        return ["?format=csv", "?format=xlsx"]
    return ["", "?export=csv", "?export=xlsx"]


@pytest.mark.parametrize(
    ("endpoint", "method", "rule_text"), ROUTES, ids=[f"{m} {r}" for e, m, r in ROUTES]
)
def test_route_answers_each_principal_as_the_table_says(matrix, endpoint, method, rule_text):
    rule = rule_for(endpoint, method)
    assert rule is not None, f"{endpoint} {method} has no entry in authorization_table.py"
    from flask import url_for

    url_rule = next(
        r for r in matrix.app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_text
    )

    def path_for(ids: dict[str, Any]) -> str:
        with matrix.app.test_request_context():
            return url_for(endpoint, **url_args(endpoint, set(url_rule.arguments), ids))

    base = path_for(matrix.world.ids)
    api = base.startswith("/api/")
    expected = {p: rule.expected(p, api) for p in PRINCIPALS}
    # Refused principals first, so that an allowed request cannot change what they are asked.
    order = sorted(PRINCIPALS, key=lambda p: expected[p] == ALLOWED)
    problems = []
    queries = export_variants(matrix, endpoint, method)
    if method == "GET" and rule.vendor == ANY:
        # lists filtered by another vendor's id must still show a vendor user only their own
        a = matrix.world.vendor_a_id
        queries.append(f"?vendor={a}&vendor_id={a}&vendor_ids={a}")
    for query in queries:
        path = base + query
        for principal in order:
            refused = expected[principal] != ALLOWED and not rule.public
            if not refused and endpoint in FRESH_OBJECTS:
                key, make = FRESH_OBJECTS[endpoint]
                with Session(matrix.engine, expire_on_commit=False) as session:
                    path = path_for({**matrix.world.ids, key: make(session, matrix.world)}) + query
            before = fingerprint(matrix.engine) if refused and method in MUTATING else None
            response = send(matrix, principal, method, path, api, refused)
            got = classify(response, method)
            if got != expected[principal]:
                problems.append(
                    f"{principal}: {method} {path} answered {response.status_code} "
                    f"({got}), expected {expected[principal]}"
                )
            if before is not None and fingerprint(matrix.engine) != before:
                problems.append(f"{principal}: refused {method} {path} changed the database")
            leak_check = principal == "vendor_b" and got == ALLOWED and not rule.public
            if leak_check and VENDOR_A_NAME.encode() in visible_text(response):
                problems.append(f"vendor_b: {method} {path} shows vendor A's data")
            response.close()
    if endpoint == "auth.logout":
        matrix.sign_in_everyone()
    assert not problems, "\n".join(problems)
