"""Application wiring: one object that holds what a command needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from brandpulse.clock import Clock, SystemClock
from brandpulse.config import DATABASE_URL_ENV, ConfigError, Settings, load_settings
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.resources import demo_config_path

DEMO_CONFIG = demo_config_path()
CONFIG_ENV = "BRANDPULSE_CONFIG"


def default_config_path() -> Path:
    """``./brandpulse.yaml`` when there is one, else the bundled demo configuration."""
    local = Path.cwd() / "brandpulse.yaml"
    return local if local.exists() else DEMO_CONFIG


@dataclass
class App:
    settings: Settings
    engine: Engine
    Session: sessionmaker[Session]
    clock: Clock

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> "App":
        engine = open_database(settings)
        if migrate:
            upgrade(engine)
        return cls(settings=settings, engine=engine, Session=session_factory(engine), clock=clock or SystemClock())

    @classmethod
    def from_file(cls, path: Path | str, **kwargs) -> "App":
        return cls.open(load_settings(path), **kwargs)

    def close(self) -> None:
        self.engine.dispose()


_ENCODE_HINT = (" (characters such as @ : / in the user name or password must be percent-encoded:"
                " @ as %40, : as %3A, / as %2F)")


def open_database(settings: Settings) -> Engine:
    """An engine on the configured database, connected once to prove it opens.
    One that cannot (no such driver, server down, not a database file, a
    directory that cannot be created) is a :class:`ConfigError` naming where
    the URL comes from and the reason; the URL is shown without its password."""
    url, where = settings.database_url_and_origin()
    path = None if where.startswith(DATABASE_URL_ENV) else settings.source_path
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError([f"{where}: not a database URL (e.g. sqlite:///data/brandpulse.db, postgresql+psycopg://user@host/db)"], path=path) from None
    except ValueError as exc:  # SQLAlchemy's int(port); its message would quote the "port", maybe a piece of the password
        what = "its port is not a number" if "int()" in str(exc) else "it cannot be parsed"
        raise ConfigError([f"{where}: not a database URL: {what}{_ENCODE_HINT}"], path=path) from None
    if parsed.host and "@" in parsed.host:  # user:p@ss@host is read as password 'p', host 'ss@host'
        raise ConfigError([f"{where}: not a database URL: its host holds '@'{_ENCODE_HINT}"], path=path)
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = make_engine(url)
        with engine.connect():
            pass
    except NoSuchModuleError:
        reason = f"unknown kind of database {make_url(url).drivername!r}"
    except ImportError as exc:
        reason = f"its driver is not installed (no module {exc.name!r}; PostgreSQL: install brandpulse with its [postgres] extra)"
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    except OSError as exc:
        reason = f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    else:
        return engine
    raise ConfigError([f"{where}: cannot open the database {shown}: {reason}"], path=path)
