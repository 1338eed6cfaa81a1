"""Engine from settings, migrations, checkpoints and processed ids: the pieces of a
projection's one-transaction batch (docs/design.md, "Guarantees")."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from truenorth.store.schema import checkpoints, processed_events

if TYPE_CHECKING:
    from alembic.config import Config


class CheckpointConflict(RuntimeError):
    """Another writer moved the checkpoint: this batch must not commit
    (docs/design.md#known-traps)."""


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, json_deserializer=load_json)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # a session paused inside a transaction (a worker stopped mid-commit) is ended well within
    # a lease's TTL, so the partition's next owner is not held up by its row locks
    options = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    return create_engine(
        url, pool_pre_ping=True, connect_args={"options": options}, json_deserializer=load_json
    )


def load_json(text: str | bytes) -> Any:
    """JSON columns read with orjson: 2 000 open drifts decode in ~4 ms against ~12 ms with
    the standard library, and a drift tick and a snapshot read them all (benchmarks/README.md,
    tenth session). The standard library's extensions (NaN, Infinity), which its `dumps`
    writes, fall back to it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


IDLE_IN_TRANSACTION_MS = 5_000


def reading(engine: Engine) -> Connection:
    """A connection that only reads, whose transaction PostgreSQL does not end for idling
    (`IDLE_IN_TRANSACTION_MS`, there for writers' row locks, which a reader holds none of)
    while Python works between two reads, as a drift tick or a snapshot build at thousands of
    objectives does for seconds. Not autocommit: streamed reads (`yield_per`) need a
    transaction for their server-side cursor."""
    connection = engine.connect()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
    return connection


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # see SCHEMA_HEAD

    script_location = resources.files("truenorth.store") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


MIGRATION_LOCK = 7_318_024_117  # pg_advisory_xact_lock key: one migrator at a time
SCHEMA_HEAD = "0006"
"""The newest migration's revision (a test checks it is alembic's head). A store already at
head is left alone without importing alembic: its modules (and mako's) are ~10 MB that a
service would otherwise hold for its whole life to run one query at start-up."""


def schema_revision(engine: Engine) -> str | None:
    """The store's migration revision, None before the first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        return None if revision is None else str(revision)


def migrate(engine: Engine, attempts: int = 5) -> None:
    """Bring the schema to head (idempotent). Services sharing a database start together, so
    migrations are serialised: an advisory lock on PostgreSQL; on SQLite the loser of the race
    sees "already exists" and retries, finding the schema at head."""
    if schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command  # see SCHEMA_HEAD

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            if attempt == attempts or "already exists" not in str(exc):
                raise
            time.sleep(0.2 * attempt)


def already_processed_in(connection: Connection, consumer: str, event_ids: list[str]) -> set[str]:
    """The ids among `event_ids` this consumer folded before (inside the caller's transaction).

    Plain driver SQL: SQLAlchemy compiling a 500-value `IN` per query cost ~1.5 µs an event
    of a fold (`benchmarks/fold_cpu.py`)."""
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    seen: set[str] = set()
    for start in range(0, len(event_ids), IN_CHUNK):
        chunk = event_ids[start : start + IN_CHUNK]
        rows = connection.exec_driver_sql(
            f"SELECT event_id FROM {_PROCESSED} WHERE consumer = {mark} AND event_id IN "
            f"({', '.join([mark] * len(chunk))})",
            (consumer, *chunk),
        )
        seen.update(event_id for (event_id,) in rows)
    return seen


def insert_processed(connection: Connection, consumer: str, event_ids: list[str]) -> None:
    if not event_ids:
        return
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_PG_INSERT_PROCESSED, (consumer, event_ids))
    else:
        connection.exec_driver_sql(_SQLITE_INSERT_PROCESSED, [(consumer, i) for i in event_ids])


def insert_rows(
    connection: Connection, table: Table, rows: list[dict[str, Any]], on_conflict: str = ""
) -> None:
    """Insert rows (dicts keyed by column name, every column of `table`) in one statement on
    PostgreSQL (one array per column, `unnest`), `executemany` on SQLite; `on_conflict` is
    appended to the statement as written.

    psycopg's `executemany` adapts and sends each row on its own: with arrays the fold's CPU
    on PostgreSQL fell from 96 to 54 µs a metric event (`benchmarks/fold_cpu.py`)."""
    if not rows:
        return
    names = [column.name for column in table.columns]
    into = f"INSERT INTO {table.name} ({', '.join(names)}) "
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(
            f"%s::{column.type.compile(dialect=connection.dialect)}[]" for column in table.columns
        )
        columns = tuple([row[name] for row in rows] for name in names)
        connection.exec_driver_sql(f"{into}SELECT * FROM unnest({arrays}) {on_conflict}", columns)
    else:
        values = ", ".join(f":{name}" for name in names)
        connection.exec_driver_sql(f"{into}VALUES ({values}) {on_conflict}", rows)


IN_CHUNK = 500
"""Values per `IN (...)` query: well inside every driver's bind-parameter limit."""
_PROCESSED = processed_events.name
_SQLITE_INSERT_PROCESSED = (
    f"INSERT INTO {_PROCESSED} (consumer, event_id) VALUES (?, ?) "
    "ON CONFLICT (consumer, event_id) DO NOTHING"
)
_PG_INSERT_PROCESSED = (
    f"INSERT INTO {_PROCESSED} (consumer, event_id) SELECT %s, unnest(%s::text[]) "
    "ON CONFLICT (consumer, event_id) DO NOTHING"
)


def move_checkpoint(
    connection: Connection, consumer: str, stream: str, expected: int, new: int
) -> None:
    """Move the checkpoint from `expected` to `new` inside the caller's transaction, guarded
    (`WHERE position = expected`): a second writer's batch is refused whole."""
    _move_checkpoint(connection, consumer, stream, expected, new, datetime.now(UTC))


def _move_checkpoint(
    connection: Connection, consumer: str, stream: str, expected: int, new: int, now: datetime
) -> None:
    if expected == 0:
        current = connection.execute(
            select(checkpoints.c.position).where(
                checkpoints.c.consumer == consumer, checkpoints.c.stream == stream
            )
        ).scalar_one_or_none()
        if current is None:
            try:
                with connection.begin_nested():
                    connection.execute(
                        checkpoints.insert().values(
                            consumer=consumer, stream=stream, position=new, updated_at=now
                        )
                    )
            except IntegrityError as exc:
                raise CheckpointConflict(
                    f"checkpoint {consumer}/{stream} was created by another writer"
                ) from exc
            return
    result = connection.execute(
        update(checkpoints)
        .where(
            checkpoints.c.consumer == consumer,
            checkpoints.c.stream == stream,
            checkpoints.c.position == expected,
        )
        .values(position=new, updated_at=now)
    )
    if result.rowcount != 1:
        raise CheckpointConflict(
            f"checkpoint {consumer}/{stream} is no longer at {expected}: another writer moved it"
        )


def read_checkpoints(engine: Engine, consumer: str) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(checkpoints.c.stream, checkpoints.c.position).where(
                checkpoints.c.consumer == consumer
            )
        ).all()
    return {stream: int(position) for stream, position in rows}


def reset_consumer(connection: Connection, consumer: str) -> None:
    """Forget a consumer's checkpoints and processed ids (for rebuild), in the caller's
    transaction: the caller empties its own tables in the same one."""
    for table in (checkpoints, processed_events):
        connection.execute(delete(table).where(table.c.consumer == consumer))
