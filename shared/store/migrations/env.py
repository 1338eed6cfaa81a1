"""Alembic environment: runs on the connection handed over by truenorth.store.db.migrate,
or on sqlalchemy.url when invoked from the alembic CLI."""

from alembic import context
from sqlalchemy import create_engine

from truenorth.store.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
