"""Alembic environment: the engine is handed in by brandpulse.db.upgrade."""

from alembic import context

from brandpulse.db.engine import lock_out_other_migrations
from brandpulse.db.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line: use sqlalchemy.url
        from brandpulse.db.engine import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        # One migration run at a time: the processes that start together
        # (replicas of `run`, a command typed during a deployment) each
        # upgrade at start, and a second run creating the tables the first
        # just created failed ("relation ... already exists").
        lock_out_other_migrations(connection)
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
