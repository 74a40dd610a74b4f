import pytest

from vendor_portal import create_app
from vendor_portal.config import ConfigurationError, _development_secret


def test_config_from_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VENDOR_PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    monkeypatch.setenv("VENDOR_PORTAL_PER_PAGE", "25")
    app = create_app({"SECRET_KEY": "k" * 40})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/x.sqlite3"
    assert app.config["PER_PAGE"] == 25


def test_testing_flag(tmp_path):
    assert not create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "SECRET_KEY": "x" * 40}
    ).testing
    assert create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/b.db", "SECRET_KEY": "x" * 40}
    ).testing


def test_postgres_url_uses_psycopg3(tmp_path):
    app = create_app({"DATABASE_URL": "postgres://u@localhost/db", "SECRET_KEY": "x" * 40})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@localhost/db"


@pytest.mark.parametrize("secret", [None, "", "short", "dev-" + "x" * 40])
def test_production_refuses_weak_or_missing_secret(secret, tmp_path):
    config = {"ENV": "production", "DATABASE_URL": "postgresql://u@localhost/db"}
    if secret is not None:
        config["SECRET_KEY"] = secret
    with pytest.raises(ConfigurationError, match="VENDOR_PORTAL_SECRET_KEY"):
        create_app(config)


def test_production_sets_secure_cookies_and_warns_about_sqlite(tmp_path, caplog):
    app = create_app(
        {"ENV": "production", "SECRET_KEY": "s" * 48, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert "PostgreSQL" in caplog.text


def test_development_secret_is_generated_once_and_kept(tmp_path):
    first = _development_secret(str(tmp_path))
    assert _development_secret(str(tmp_path)) == first
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
