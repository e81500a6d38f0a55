"""Alembic environment: runs migrations on the connection ``Database.upgrade`` hands over,
or on a fresh engine for the ``alembic`` command line."""

from alembic import context
from sqlalchemy import Connection, create_engine

from labrig.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as fresh:
        run_migrations(fresh)
