"""Storage: SQLAlchemy 2.x models, engine set-up and Alembic migrations."""

from brandpulse.db.engine import make_engine, session_factory, upgrade  # noqa: F401
from brandpulse.db.models import Base  # noqa: F401
