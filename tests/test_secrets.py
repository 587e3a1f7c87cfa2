"""Secrets: environment or NAME_FILE, masked everywhere, redacted from logs."""

from __future__ import annotations

import logging
import pickle

import pytest

from brandpulse.config import ConfigError
from brandpulse.secrets import MASK, MissingSecretError, RedactSecrets, Secret, read_secret, read_secrets, redact_in_logs


def test_read_from_the_environment():
    secret = read_secret("X_BEARER_TOKEN", env={"X_BEARER_TOKEN": " abc123token \n"})
    assert secret.reveal() == "abc123token"
    assert secret.name == "X_BEARER_TOKEN"


def test_read_from_the_file_named_by_NAME_FILE(tmp_path):
    path = tmp_path / "token"
    path.write_text("from-a-file\n", encoding="utf-8")
    assert read_secret("X_BEARER_TOKEN", env={"X_BEARER_TOKEN_FILE": str(path)}).reveal() == "from-a-file"


def test_the_variable_wins_over_the_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("from-a-file", encoding="utf-8")
    env = {"X_BEARER_TOKEN": "from-env", "X_BEARER_TOKEN_FILE": str(path)}
    assert read_secret("X_BEARER_TOKEN", env=env).reveal() == "from-env"


def test_missing_secrets_are_all_named_at_once():
    with pytest.raises(MissingSecretError) as err:
        read_secrets(["REDDIT_CLIENT_ID", "REDDIT_PASSWORD"], env={"REDDIT_CLIENT_ID": "id"}, purpose="reading Reddit")
    assert isinstance(err.value, ConfigError)
    assert err.value.names == ["REDDIT_PASSWORD"]
    message = str(err.value)
    assert "REDDIT_PASSWORD is not set (nor REDDIT_PASSWORD_FILE)" in message and "reading Reddit" in message


@pytest.mark.parametrize("env,problem", [
    ({"X_API_KEY": "   "}, "X_API_KEY is empty"),
    ({"X_API_KEY_FILE": "/nonexistent/brandpulse/key"}, "cannot be read"),
])
def test_empty_or_unreadable(env, problem):
    with pytest.raises(MissingSecretError) as err:
        read_secret("X_API_KEY", env=env)
    assert problem in str(err.value)


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(MissingSecretError, match="which is empty"):
        read_secret("X_API_KEY", env={"X_API_KEY_FILE": str(path)})


def test_a_secret_never_shows_itself():
    secret = Secret("X_API_SECRET", "s3cr3t-value")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret, str([secret]), str({"k": secret})):
        assert "s3cr3t-value" not in shown
    assert MASK in str(secret) and "X_API_SECRET" in repr(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_redaction_filter_on_a_library_logger(caplog):
    secret = Secret("X_ACCESS_TOKEN", "111-access token/+=")
    redact_in_logs([secret], loggers=["brandpulse.test.library"])
    redact_in_logs([secret], loggers=["brandpulse.test.library"])  # idempotent: one filter
    logger = logging.getLogger("brandpulse.test.library")
    assert sum(isinstance(f, RedactSecrets) for f in logger.filters) == 1
    caplog.set_level(logging.DEBUG)
    logger.debug("Headers: %s", {"Authorization": "OAuth oauth_token=\"111-access%20token%2F%2B%3D\""})
    logger.debug("plain %s", "111-access token/+=")
    assert "111-access" not in caplog.text
    assert caplog.text.count(MASK) == 2


def test_short_values_are_not_redacted_into_noise():
    f = RedactSecrets([Secret("X", "ab")])
    assert f.redact("abcab") == "abcab"


@pytest.mark.parametrize("content", ["first-half\nsecond-half\n", "first-half\r\nsecond-half", "first-half\tsecond-half\x00"])
def test_a_file_with_a_line_break_inside_is_refused_naming_the_variable_not_the_value(tmp_path, content):
    # A token split over two lines reached the HTTP layer, whose error
    # ("Invalid ... character(s) in header value: 'Bearer first-half\nsecond-half'")
    # was stored as the source's last error and logged: the value in clear.
    path = tmp_path / "token"
    path.write_bytes(content.encode())
    with pytest.raises(MissingSecretError) as err:
        read_secret("X_BEARER_TOKEN", env={"X_BEARER_TOKEN_FILE": str(path)}, purpose="reading X")
    message = str(err.value)
    assert "X_BEARER_TOKEN_FILE" in message and str(path) in message and "control character" in message
    assert "reading X" in message
    assert "first-half" not in message and "second-half" not in message
    assert err.value.names == ["X_BEARER_TOKEN"]


def test_a_variable_with_a_line_break_inside_is_refused_without_its_value():
    with pytest.raises(MissingSecretError) as err:
        read_secret("REDDIT_PASSWORD", env={"REDDIT_PASSWORD": "hunter2\nhunter3"})
    message = str(err.value)
    assert "environment variable REDDIT_PASSWORD" in message and "control character" in message
    assert "hunter" not in message


def test_spaces_inside_a_value_are_kept():
    # A Reddit password may contain spaces; only control characters are refused.
    assert read_secret("REDDIT_PASSWORD", env={"REDDIT_PASSWORD": " correct horse battery \n"}).reveal() == "correct horse battery"


def test_a_file_that_is_not_utf8_text_is_named(tmp_path):
    path = tmp_path / "token.bin"
    path.write_bytes(b"\xff\xfe" + "secret-token".encode("utf-16-le"))
    with pytest.raises(MissingSecretError) as err:
        read_secret("X_API_KEY", env={"X_API_KEY_FILE": str(path)})
    message = str(err.value)
    assert "X_API_KEY_FILE" in message and "not UTF-8 text" in message and str(path) in message


def test_a_directory_named_by_NAME_FILE(tmp_path):
    with pytest.raises(MissingSecretError, match="X_API_KEY_FILE names .*, which cannot be read: Is a directory"):
        read_secret("X_API_KEY", env={"X_API_KEY_FILE": str(tmp_path)})


# A secret put by mistake into NAME_FILE (X_BEARER_TOKEN_FILE=AAAA...) was
# printed as the "path" that cannot be read: on the terminal, in the logs, in a
# source's stored last error. Values made up for the tests, shaped like the real ones.
BEARER = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4X"


@pytest.mark.parametrize(("name", "value"), [
    ("X_BEARER_TOKEN", BEARER),
    ("X_API_SECRET", "q0Zr/Kx9pWm+T2vLc8eQ4s1uYb7n/Hd3JfGa6"),  # base64 with '/' in it: no directory it leads into
    ("REDDIT_PASSWORD", "correct horse/battery staple"),
    ("BRANDPULSE_DATABASE_URL", "postgresql+psycopg://brandpulse:s3cret-pw@db.internal/brandpulse"),
    ("BRANDPULSE_DATABASE_URL", "postgresql+psycopg://brandpulse:s3cret-pw@" + "/tmp/sock"),  # a URL is never a path
    ("X_BEARER_TOKEN", "A" * 300),  # too long for a file name
])
def test_a_secret_put_into_NAME_FILE_is_never_shown_as_the_path(name, value):
    with pytest.raises(MissingSecretError) as err:
        read_secret(name, env={f"{name}_FILE": value}, purpose="reading X")
    message = str(err.value)
    assert f"{name}_FILE names a file that cannot be read" in message
    assert "its value is not shown, as it may be the secret itself" in message and "reading X" in message
    assert value not in message and value[:8] not in message and "s3cret" not in message
    assert err.value.names == [name]


@pytest.mark.parametrize("relative", ["missing-token", "no-such-dir/token"])
def test_a_path_into_an_existing_directory_is_shown(tmp_path, monkeypatch, relative):
    path = tmp_path / relative
    with pytest.raises(MissingSecretError) as err:
        read_secret("X_BEARER_TOKEN", env={"X_BEARER_TOKEN_FILE": str(path)})
    assert f"X_BEARER_TOKEN_FILE names {str(path)!r}, which cannot be read: No such file or directory" in str(err.value)
    monkeypatch.chdir(tmp_path)  # relative to the working directory, as the file is read
    (tmp_path / "secrets").mkdir()
    with pytest.raises(MissingSecretError) as err:
        read_secret("X_BEARER_TOKEN", env={"X_BEARER_TOKEN_FILE": "secrets/x_token"})
    assert "X_BEARER_TOKEN_FILE names 'secrets/x_token', which cannot be read" in str(err.value)


def test_cli_a_token_put_into_NAME_FILE_reaches_neither_the_terminal_nor_the_logs(tmp_path, monkeypatch, caplog):
    import responses

    from tests.cli_helpers import invoke, write_config

    caplog.set_level(logging.DEBUG)
    for variable in ("X_BEARER_TOKEN", "BRANDPULSE_DATABASE_URL", "BRANDPULSE_DATABASE_URL_FILE", "BRANDPULSE_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("X_BEARER_TOKEN_FILE", BEARER)
    config = write_config(tmp_path, [], sources=[{"name": "x-search", "kind": "x", "brand": "acme", "endpoint": "search"}])
    with responses.RequestsMock():  # no network
        result = invoke(config, "run", "--once", ok=False)
    assert result.exit_code == 2, result.output
    assert "X_BEARER_TOKEN_FILE names a file that cannot be read" in result.output
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert BEARER[:20] not in result.output and BEARER[:20] not in logged
