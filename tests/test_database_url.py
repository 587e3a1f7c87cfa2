"""The database URL from the environment: BRANDPULSE_DATABASE_URL, or the
file named by BRANDPULSE_DATABASE_URL_FILE (a Docker or Kubernetes secret:
the URL holds the database password). An empty variable, an unreadable file
or a URL that cannot be parsed is named, never shown with its password, and
nothing starts; it used to fall back silently to the SQLite file under
data_dir (an empty variable) or end in a traceback (a port that is not a
number)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandpulse.config import ConfigError, parse_settings
from tests.cli_helpers import invoke, write_config
from tests.conftest import PG_URL

ENV = "BRANDPULSE_DATABASE_URL"
FILE_ENV = "BRANDPULSE_DATABASE_URL_FILE"


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    for name in (ENV, FILE_ENV, "BRANDPULSE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return write_config(tmp_path, [])


def test_the_file_named_by_the_FILE_variable_gives_the_url(tmp_path, config_dict, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    secret = tmp_path / "db_url"
    secret.write_text("postgresql+psycopg://brandpulse:s3cret@db.internal/brandpulse\n")
    monkeypatch.setenv(FILE_ENV, str(secret))
    settings = parse_settings(config_dict, path=tmp_path / "b.yaml")
    assert settings.effective_database_url() == "postgresql+psycopg://brandpulse:s3cret@db.internal/brandpulse"
    assert settings.database_url_and_origin() == ("postgresql+psycopg://brandpulse:s3cret@db.internal/brandpulse",
                                                  FILE_ENV)
    monkeypatch.setenv(ENV, "sqlite:///elsewhere.db")  # the variable wins, as for every secret
    assert settings.effective_database_url() == "sqlite:///elsewhere.db"
    assert settings.database_url_and_origin() == ("sqlite:///elsewhere.db", ENV)


@pytest.mark.parametrize(("env", "problem"), [
    ({ENV: ""}, "environment variable BRANDPULSE_DATABASE_URL is empty"),
    ({ENV: "  \n"}, "environment variable BRANDPULSE_DATABASE_URL is empty"),
    ({FILE_ENV: ""}, "environment variable BRANDPULSE_DATABASE_URL_FILE is empty"),
    # Not plainly a path (no directory '/nonexistent'): not shown, it might be the URL itself.
    ({FILE_ENV: "/nonexistent/brandpulse/db_url"}, "BRANDPULSE_DATABASE_URL_FILE names a file that cannot be read (No such file or directory)"),
])
def test_an_empty_variable_or_a_missing_file_is_an_error_not_the_sqlite_default(tmp_path, config_dict, monkeypatch, env, problem):
    for name in (ENV, FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = parse_settings(config_dict, path=tmp_path / "b.yaml")
    with pytest.raises(ConfigError) as err:
        settings.effective_database_url()
    assert problem in str(err.value)


def test_cli_an_empty_variable_stops_every_command_naming_it(config, monkeypatch):
    monkeypatch.setenv(ENV, "")
    for args in (["alerts", "list"], ["db", "current"], ["run", "--once"]):
        result = invoke(config, *args, ok=False)
        assert result.exit_code == 2, result.output
        assert "environment variable BRANDPULSE_DATABASE_URL is empty" in result.output
        assert "Traceback" not in result.output
    assert not (config.parent / "data" / "brandpulse.db").exists()  # nothing went to the SQLite default


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://brandpulse:pa@ss:Zq7wd@127.0.0.1/db",  # "@" and ":" not percent-encoded: "Zq7wd@127..." read as the port
    "postgresql+psycopg://brandpulse:s3cret@127.0.0.1:port/db",
])
def test_cli_a_url_whose_port_is_not_a_number_is_named_without_the_password(config, monkeypatch, url):
    monkeypatch.setenv(ENV, url)
    result = invoke(config, "db", "current", ok=False)
    assert result.exit_code == 2, result.output
    assert "BRANDPULSE_DATABASE_URL: not a database URL: its port is not a number" in result.output
    assert "percent-encoded" in result.output
    assert "Zq7wd" not in result.output and "s3cret" not in result.output and "Traceback" not in result.output


def test_cli_a_password_with_an_unencoded_at_sign_is_not_shown_as_part_of_the_host(config, monkeypatch):
    # Read as password 'pa', host 'ss@127.0.0.1': shown, the host gave away half the password.
    monkeypatch.setenv(ENV, "postgresql+psycopg://brandpulse:pa@ss@127.0.0.1:1/db")
    result = invoke(config, "db", "current", ok=False)
    assert result.exit_code == 2, result.output
    assert "BRANDPULSE_DATABASE_URL: not a database URL: its host holds '@'" in result.output
    assert "ss@" not in result.output and "Traceback" not in result.output


def test_cli_the_url_from_a_file_is_named_by_that_variable_without_its_password(config, tmp_path, monkeypatch):
    secret = tmp_path / "db_url"
    secret.write_text("postgresql+psycopg://brandpulse:s3cret@127.0.0.1:1/db\n")
    monkeypatch.setenv(FILE_ENV, str(secret))
    result = invoke(config, "db", "current", ok=False)
    assert result.exit_code == 2, result.output
    assert "BRANDPULSE_DATABASE_URL_FILE: cannot open the database postgresql+psycopg://brandpulse:***@127.0.0.1:1/db" in result.output
    assert "s3cret" not in result.output


def test_cli_the_url_put_into_the_FILE_variable_is_not_shown(config, monkeypatch, caplog):
    # The URL itself in BRANDPULSE_DATABASE_URL_FILE instead of a file's path: the
    # 'cannot be read' error printed it, password and all.
    caplog.set_level("DEBUG")
    monkeypatch.setenv(FILE_ENV, "postgresql+psycopg://brandpulse:s3cret@db.internal/brandpulse")
    for args in (["db", "current"], ["run", "--once"]):
        result = invoke(config, *args, ok=False)
        assert result.exit_code == 2, result.output
        assert "BRANDPULSE_DATABASE_URL_FILE names a file that cannot be read (No such file or directory);" \
               " its value is not shown, as it may be the secret itself" in result.output
        assert "s3cret" not in result.output and "db.internal" not in result.output and "Traceback" not in result.output
    assert "s3cret" not in caplog.text and "db.internal" not in caplog.text
    secret = config.parent / "db_url"  # a file's path is shown
    monkeypatch.setenv(FILE_ENV, str(secret))
    assert f"BRANDPULSE_DATABASE_URL_FILE names {str(secret)!r}, which cannot be read" in invoke(config, "db", "current", ok=False).output


@pytest.mark.postgres
def test_cli_postgresql_through_the_FILE_variable(config, tmp_path, monkeypatch):
    try:
        import psycopg  # noqa: F401
        from sqlalchemy import text
        from brandpulse.db import make_engine
        with make_engine(PG_URL, connect_args={"connect_timeout": 3}).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any reason is a reason to skip
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}")
    secret = tmp_path / "db_url"
    secret.write_text(PG_URL + "\n")
    monkeypatch.setenv(FILE_ENV, str(secret))
    result = invoke(config, "db", "current")
    assert result.output.strip()  # a revision, or the empty-database hint: the server answered
    assert not (config.parent / "data" / "brandpulse.db").exists()
