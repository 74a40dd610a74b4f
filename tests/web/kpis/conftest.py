import pytest

from tests.kpis_factories import KpiBuilders


@pytest.fixture
def kb(session) -> KpiBuilders:
    return KpiBuilders(session)


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
