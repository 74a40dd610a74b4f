import pytest
from sqlalchemy import func, select

from vendor_portal.vendors.models import Vendor


@pytest.fixture
def api(app, build):
    """A client that sends a bearer token for a user of the given role."""

    class Api:
        def __init__(self) -> None:
            self.client = app.test_client()
            self.headers: dict[str, str] = {}

        def as_role(self, role: str, vendor=None):
            user = build.user(role=role, vendor=vendor)
            self.headers = {"Authorization": f"Bearer {build.token(user)}"}
            return user

        def get(self, path, **kw):
            return self.client.get(path, headers=self.headers, **kw)

        def post(self, path, **kw):
            return self.client.post(path, headers=self.headers, **kw)

    return Api()


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    assert response.is_json
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_requests_without_a_valid_token_are_401(client, build):
    assert_error(client.get("/api/v1/vendors"), 401, "unauthorized")
    assert_error(
        client.get("/api/v1/vendors", headers={"Authorization": "Bearer vp_nope"}),
        401,
        "unauthorized",
    )
    assert_error(
        client.get("/api/v1/vendors", headers={"Authorization": "Basic abc"}), 401, "unauthorized"
    )
    response = client.get("/api/v1/vendors")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_cookies_do_not_authenticate_the_api(client, auth):
    auth.login_as("admin")
    assert_error(client.get("/api/v1/vendors"), 401, "unauthorized")


def test_deactivated_users_token_stops_working(api, session):
    user = api.as_role("vendor_manager")
    assert api.get("/api/v1/vendors").status_code == 200
    session.get(type(user), user.id).active = False
    session.commit()
    assert_error(api.get("/api/v1/vendors"), 401, "unauthorized")


def test_create_and_get_a_vendor(api, session):
    api.as_role("vendor_manager")
    response = api.post(
        "/api/v1/vendors",
        json={"name": "Acme", "tier": "critical", "country": "de", "lei": "529900T8BM49AURSDO55"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] and body["country"] == "DE" and body["status"] == "prospective"
    assert response.headers["Location"] == f"/api/v1/vendors/{body['id']}"
    fetched = api.get(f"/api/v1/vendors/{body['id']}").get_json()
    assert fetched["name"] == "Acme" and fetched["lei"] == "529900T8BM49AURSDO55"


def test_invalid_input_names_each_field_and_stores_nothing(api, session):
    api.as_role("vendor_manager")
    error = assert_error(
        api.post(
            "/api/v1/vendors",
            json={"name": "", "tier": "gold", "country": "ZZ", "lei": "123", "colour": "red"},
        ),
        422,
        "validation_error",
    )
    assert set(error["fields"]) == {"name", "tier", "country", "lei", "colour"}
    assert session.scalar(select(func.count(Vendor.id))) == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "bad_json"),
        ({"json": ["a", "list"]}, 400, "bad_json"),
        (
            {"data": "name=x", "content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
        ),
        ({"json": {"name": 5, "tier": "low", "country": "DE"}}, 422, "validation_error"),
    ],
)
def test_malformed_bodies_get_clear_errors(api, kwargs, status, code):
    api.as_role("vendor_manager")
    assert_error(api.post("/api/v1/vendors", **kwargs), status, code)


def test_duplicate_lei_is_409(api, build):
    existing = build.vendor()
    api.as_role("admin")
    error = assert_error(
        api.post(
            "/api/v1/vendors",
            json={"name": "Copy", "tier": "low", "country": "DE", "lei": existing.lei},
        ),
        409,
        "conflict",
    )
    assert error["field"] == "lei"


def test_read_only_roles_get_403_on_create(api):
    for role in ("auditor", "procurement", "vendor_user"):
        api.as_role(role)
        assert_error(
            api.post("/api/v1/vendors", json={"name": "X", "tier": "low", "country": "DE"}),
            403,
            "forbidden",
        )


def test_list_paginates_and_sorts(api, build):
    for n in range(7):
        build.vendor(name=f"V{n}", lei=None)
    api.as_role("auditor")
    body = api.get("/api/v1/vendors?per_page=3&page=3&sort=-name").get_json()
    assert body["total"] == 7 and body["pages"] == 3 and body["page"] == 3
    assert [v["name"] for v in body["items"]] == ["V0"]
    assert_error(api.get("/api/v1/vendors?per_page=0"), 400, "bad_request")
    assert_error(api.get("/api/v1/vendors?sort=secret"), 400, "bad_request")


def test_vendor_user_sees_only_its_own_vendor(api, build):
    mine = build.vendor(name="Mine")
    theirs = build.vendor(name="Theirs")
    api.as_role("vendor_user", vendor=mine)
    listing = api.get("/api/v1/vendors").get_json()
    assert [v["name"] for v in listing["items"]] == ["Mine"]
    assert api.get(f"/api/v1/vendors/{mine.id}").status_code == 200
    error = assert_error(api.get(f"/api/v1/vendors/{theirs.id}"), 404, "not_found")
    assert "Theirs" not in error["message"]


def test_unknown_api_path_and_method_answer_json(api):
    api.as_role("admin")
    assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(
        api.client.delete("/api/v1/vendors", headers=api.headers), 405, "method_not_allowed"
    )


def test_openapi_documents_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1")
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
