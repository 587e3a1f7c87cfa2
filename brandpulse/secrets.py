"""Secrets: read from the environment, masked everywhere else.

A secret ``NAME`` is read from the environment variable ``NAME`` or, when that
is not set, from the file named by ``NAME_FILE`` (Docker/Kubernetes secrets).
Nothing is ever read from the configuration file. A :class:`Secret` prints as
``******`` in ``repr``/``str``/f-strings, so it cannot leak through an error
message or a log line by accident; code that needs the value calls
:meth:`Secret.reveal` at the last moment, when handing it to a client library.

Client libraries do log credentials at DEBUG level (tweepy logs the bearer
header, oauthlib the OAuth parameters with the access token, requests-oauthlib
the client's repr). :func:`redact_in_logs` attaches a filter to those loggers
that replaces every known secret value before the record reaches any handler.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from brandpulse.config import ConfigError

MASK = "******"

# Loggers of the libraries brandpulse hands credentials to. A filter on a
# logger only sees records logged on that very logger (not its children), so
# every logger that can see a credential is listed by its exact name.
LIBRARY_LOGGERS: tuple[str, ...] = (
    "tweepy.client",
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth1_session",
    "requests_oauthlib.oauth2_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "prawcore",
    "praw",
    "urllib3.connectionpool",
)


class Secret:
    """A credential value that never shows itself unless asked to."""

    __slots__ = ("_name", "_value")

    def __init__(self, name: str, value: str) -> None:
        self._name = name
        self._value = value

    @property
    def name(self) -> str:
        """The environment variable the value came from."""
        return self._name

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self._name}={MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._name == self._name and other._value == self._value

    def __hash__(self) -> int:
        return hash((self._name, self._value))

    def __reduce__(self):  # pragma: no cover - defensive
        raise TypeError("a Secret cannot be pickled")


class MissingSecretError(ConfigError):
    """One or more credentials are not set (or their file cannot be read).

    A :class:`~brandpulse.config.ConfigError`, so the CLI reports it like any
    other configuration problem and nothing starts."""

    def __init__(self, problems: list[str], *, names: list[str]) -> None:
        super().__init__(problems)
        self.names = names


def _control_characters(value: str) -> str | None:
    """What is wrong with a credential that holds a control character (a line
    break, a tab, NUL) once surrounding whitespace is stripped, else None. No
    credential holds one; handed on, it fails deep in the HTTP layer, whose
    error quotes the header value, the credential in clear. The value itself
    is never part of the answer."""
    lines = len(value.splitlines())
    if lines > 1:
        return f"holds {lines} lines: a line break (a control character) inside; a credential is one line"
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "holds a control character (a tab, NUL, ...) inside: a credential is one line of printable text"
    return None


def _plainly_a_path(value: str) -> bool:
    """Whether the value of a ``NAME_FILE`` variable whose file cannot be read
    may be shown in the error: only when it plainly is a path, not the secret
    put there by mistake (``X_BEARER_TOKEN_FILE=AAAA...``). It is one when it
    holds a path separator, is not a URL (a database URL holds its password),
    and the first directory it names exists (``/run`` of
    ``/run/secrets/x_token``, ``secrets`` of ``secrets/x_token``), which a
    token or password with a '/' in it practically never does."""
    if "://" in value or "@" in value or not ("/" in value or os.sep in value):
        return False
    parents = Path(value).expanduser().parents  # nearest first, the root (or '.') last
    first = parents[-2] if len(parents) > 1 else parents[0]
    try:
        return first.is_dir()
    except (OSError, ValueError):
        return False


def _read_one(name: str, env: Mapping[str, str], purpose: str | None) -> tuple[Secret | None, str | None]:
    why = f" ({purpose})" if purpose else ""
    value = env.get(name)
    if value is not None:
        value = value.strip()
        if not value:
            return None, f"environment variable {name} is empty{why}"
        if (wrong := _control_characters(value)) is not None:
            return None, f"environment variable {name} {wrong}{why}"
        return Secret(name, value), None
    file_var = f"{name}_FILE"
    file_name = env.get(file_var)
    if file_name is not None and not file_name.strip():
        return None, f"environment variable {file_var} is empty{why}"
    if file_name:
        path = Path(file_name).expanduser()
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__  # str(exc) would quote the file name
            if _plainly_a_path(file_name):
                return None, f"{file_var} names {str(path)!r}, which cannot be read: {reason}{why}"
            return None, (f"{file_var} names a file that cannot be read ({reason}); its value is not shown, as it may"
                          f" be the secret itself: {file_var} holds the path of a file that holds the secret, {name}"
                          f" the secret itself{why}")
        except UnicodeDecodeError:
            return None, f"{file_var} names {str(path)!r}, which is not UTF-8 text (save it as UTF-8){why}"
        if not text:
            return None, f"{file_var} names {str(path)!r}, which is empty{why}"
        if (wrong := _control_characters(text)) is not None:
            return None, f"{file_var} names {str(path)!r}, which {wrong}{why}"
        return Secret(name, text), None
    return None, f"environment variable {name} is not set (nor {file_var}){why}"


def read_secret(name: str, *, env: Mapping[str, str] | None = None, purpose: str | None = None) -> Secret:
    """Read one secret. Raises :class:`MissingSecretError` naming the variable."""
    return read_secrets([name], env=env, purpose=purpose)[name]


def read_secrets(
    names: Iterable[str], *, env: Mapping[str, str] | None = None, purpose: str | None = None
) -> dict[str, Secret]:
    """Read several secrets at once; a missing one raises
    :class:`MissingSecretError` that lists every missing name, not just the first."""
    env = os.environ if env is None else env
    found: dict[str, Secret] = {}
    problems: list[str] = []
    missing: list[str] = []
    for name in names:
        secret, problem = _read_one(name, env, purpose)
        if secret is None:
            problems.append(problem or f"{name}: unreadable")
            missing.append(name)
        else:
            found[name] = secret
    if problems:
        raise MissingSecretError(problems, names=missing)
    return found


class RedactSecrets(logging.Filter):
    """Replaces known secret values in a log record's message by ``******``.

    Also catches the percent-encoded form (OAuth 1.0a headers encode their
    parameters)."""

    def __init__(self, secrets: Iterable[Secret] = ()) -> None:
        super().__init__()
        self._needles: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[Secret]) -> None:
        for secret in secrets:
            value = secret.reveal()
            if len(value) < 4:  # too short to redact without mangling ordinary text
                continue
            self._needles.add(value)
            self._needles.add(quote(value, safe=""))

    def redact(self, text: str) -> str:
        # Longest first, so a value that contains another is replaced whole.
        for needle in sorted(self._needles, key=len, reverse=True):
            if needle in text:
                text = text.replace(needle, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._needles:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


def redact_in_logs(secrets: Iterable[Secret], *, loggers: Iterable[str] = LIBRARY_LOGGERS) -> None:
    """Make sure ``secrets`` never appear in what the client libraries log.

    Idempotent: each listed logger gets at most one :class:`RedactSecrets`
    filter, which learns the new values."""
    secrets = list(secrets)
    for logger_name in loggers:
        logger = logging.getLogger(logger_name)
        existing = next((f for f in logger.filters if isinstance(f, RedactSecrets)), None)
        if existing is None:
            logger.addFilter(RedactSecrets(secrets))
        else:
            existing.add(secrets)
