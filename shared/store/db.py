"""Engine from settings, migrations, and the one-transaction batch commit (DESIGN §7)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.sql import ColumnElement

from truenorth.store.schema import checkpoints, processed_events, projection_rows

if TYPE_CHECKING:
    from alembic.config import Config


class CheckpointConflict(RuntimeError):
    """Another writer moved the checkpoint: this batch must not commit (DESIGN §9)."""


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
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


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
SCHEMA_HEAD = "0002"
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


@dataclass
class Batch:
    """What one transaction writes: rows, checkpoints moved from expected to new, ids seen."""

    consumer: str
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """stream -> (expected current position, new position)."""
    upserts: Iterable[tuple[str, str, Any]] = field(default_factory=list)
    """Taken once, a chunk at a time: may be a generator."""
    deletes: list[tuple[str, str]] = field(default_factory=list)
    processed_ids: list[str] = field(default_factory=list)


def commit_batch(engine: Engine, batch: Batch) -> None:
    """Rows, checkpoints and processed ids in one transaction. The checkpoint update is
    guarded (`WHERE position = expected`), so a second writer's batch is refused whole.

    Rows go through the driver's own `executemany` (SQLite) or one `unnest` statement per
    table (PostgreSQL): SQLAlchemy's per-row parameter processing was most of a rebuild's
    commit time. Upserts of one key within a batch: the last one wins."""
    now = datetime.now(UTC)
    consumer = batch.consumer
    with engine.begin() as connection:
        for stream, (expected, new) in batch.positions.items():
            _move_checkpoint(connection, consumer, stream, expected, new, now)
        postgres = connection.dialect.name == "postgresql"
        upserts = iter(batch.upserts)
        while chunk := list(islice(upserts, UPSERT_CHUNK)):
            _upsert_rows(connection, consumer, chunk, postgres)
        if batch.deletes:  # one executemany: a first drift tick publishes 25 000 events
            connection.execute(
                delete(projection_rows).where(
                    projection_rows.c.consumer == bindparam("row_consumer"),
                    projection_rows.c.kind == bindparam("row_kind"),
                    projection_rows.c.key == bindparam("row_key"),
                ),
                [
                    {"row_consumer": consumer, "row_kind": kind, "row_key": key}
                    for kind, key in batch.deletes
                ],
            )
        if batch.processed_ids:
            if postgres:
                connection.exec_driver_sql(
                    _PG_INSERT_PROCESSED, (consumer, list(batch.processed_ids))
                )
            else:
                connection.exec_driver_sql(
                    _SQLITE_INSERT_PROCESSED, [(consumer, i) for i in batch.processed_ids]
                )


UPSERT_CHUNK = 2_000
"""Rows serialised and written at a time: a batch's upserts may be made as they are taken."""


def _upsert_rows(
    connection: Connection, consumer: str, chunk: list[tuple[str, str, Any]], postgres: bool
) -> None:
    """One statement for the chunk. Upserts of one key: the last one wins (within a chunk
    here, PostgreSQL refuses one statement touching a row twice; across chunks, by order)."""
    rows: dict[tuple[str, str], str] = {}
    for kind, key, payload in chunk:
        rows[(kind, key)] = dumps_payload(payload)
    if postgres:
        connection.exec_driver_sql(
            _PG_UPSERT_ROWS,
            (consumer, [kind for kind, _ in rows], [key for _, key in rows], list(rows.values())),
        )
    else:
        connection.exec_driver_sql(
            _SQLITE_UPSERT_ROWS,
            [(consumer, kind, key, payload) for (kind, key), payload in rows.items()],
        )


def dumps_payload(payload: Any) -> str:
    """Canonical JSON of a row payload: keys sorted, no spaces."""
    try:
        return orjson.dumps(payload, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_ROWS = projection_rows.name
_PROCESSED = processed_events.name
_SQLITE_UPSERT_ROWS = (
    f'INSERT INTO {_ROWS} (consumer, kind, "key", payload) VALUES (?, ?, ?, ?) '
    'ON CONFLICT (consumer, kind, "key") DO UPDATE SET payload = excluded.payload'
)
_PG_UPSERT_ROWS = (
    f'INSERT INTO {_ROWS} (consumer, kind, "key", payload) '
    "SELECT %s, k, y, p FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(k, y, p) "
    'ON CONFLICT (consumer, kind, "key") DO UPDATE SET payload = excluded.payload'
)
_SQLITE_INSERT_PROCESSED = (
    f"INSERT INTO {_PROCESSED} (consumer, event_id) VALUES (?, ?) "
    "ON CONFLICT (consumer, event_id) DO NOTHING"
)
_PG_INSERT_PROCESSED = (
    f"INSERT INTO {_PROCESSED} (consumer, event_id) SELECT %s, unnest(%s::text[]) "
    "ON CONFLICT (consumer, event_id) DO NOTHING"
)


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


def read_rows(engine: Engine, consumer: str, kind: str | None = None) -> list[tuple[str, str, Any]]:
    """The consumer's rows (of one kind only, if given), ordered by kind and key."""
    query = select(projection_rows.c.kind, projection_rows.c.key, projection_rows.c.payload).where(
        projection_rows.c.consumer == consumer
    )
    if kind is not None:
        query = query.where(projection_rows.c.kind == kind)
    with engine.connect() as connection:
        rows = connection.execute(
            query.order_by(projection_rows.c.kind, projection_rows.c.key)
        ).all()
    return [(kind, key, orjson.loads(payload)) for kind, key, payload in rows]


def _by_code_point(connection: Connection, *columns: ColumnElement[str]) -> list[Any]:
    """The columns compared by code point whatever the database's collation (SQLite
    compares text as bytes, and UTF-8 byte order is code point order)."""
    if connection.dialect.name == "postgresql":
        return [column.collate("C") for column in columns]
    return list(columns)


def read_rows_page(
    engine: Engine, consumer: str, kind: str, after: str, limit: int
) -> list[tuple[str, Any]]:
    """(key, payload) of up to `limit` rows of one kind whose key comes after `after`, in key
    order by code point."""
    query = select(projection_rows.c.key, projection_rows.c.payload).where(
        projection_rows.c.consumer == consumer, projection_rows.c.kind == kind
    )
    with engine.connect() as connection:
        [key] = _by_code_point(connection, projection_rows.c.key)
        query = query.where(key > after).order_by(key).limit(limit)
        rows = connection.execute(query).all()
    return [(row_key, orjson.loads(payload)) for row_key, payload in rows]


def iter_rows(
    engine: Engine, consumer: str, kind_prefix: str = "", chunk: int = 5_000
) -> Iterator[tuple[str, str, Any]]:
    """The consumer's rows whose kind starts with `kind_prefix`, streamed (a projection of
    millions of rows is never held as one list), ordered by kind and key by code point (the
    order `truenorth.alignment.domain.projection.digest_rows` needs, whatever the database's
    collation)."""
    kind, key = projection_rows.c.kind, projection_rows.c.key
    query = select(kind, key, projection_rows.c.payload).where(
        projection_rows.c.consumer == consumer
    )
    if kind_prefix:
        query = query.where(kind.startswith(kind_prefix, autoescape=True))
    with engine.connect() as connection:
        query = query.order_by(*_by_code_point(connection, kind, key))
        result = connection.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for row_kind, row_key, payload in result:
            yield row_kind, row_key, orjson.loads(payload)


def read_payloads(engine: Engine, consumer: str, kind: str, keys: Iterable[str]) -> dict[str, Any]:
    """key -> payload of the consumer's rows of `kind` among `keys` (absent keys: no entry)."""
    found: dict[str, Any] = {}
    chunks = _chunks(keys)
    if not chunks:
        return found
    with engine.connect() as connection:
        for chunk in chunks:
            rows = connection.execute(
                select(projection_rows.c.key, projection_rows.c.payload).where(
                    projection_rows.c.consumer == consumer,
                    projection_rows.c.kind == kind,
                    projection_rows.c.key.in_(chunk),
                )
            )
            for key, payload in rows:
                found[key] = orjson.loads(payload)
    return found


IN_CHUNK = 500
"""Values per `IN (...)` query: well inside every driver's bind-parameter limit."""


def _chunks(values: Iterable[str]) -> list[list[str]]:
    listed = list(values)
    return [listed[start : start + IN_CHUNK] for start in range(0, len(listed), IN_CHUNK)]


def already_processed(engine: Engine, consumer: str, event_ids: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    with engine.connect() as connection:
        for chunk in _chunks(event_ids):
            seen.update(
                connection.execute(
                    select(processed_events.c.event_id).where(
                        processed_events.c.consumer == consumer,
                        processed_events.c.event_id.in_(chunk),
                    )
                ).scalars()
            )
    return seen


def reset_consumer(engine: Engine, consumer: str) -> None:
    """Forget everything a consumer projected (for rebuild)."""
    with engine.begin() as connection:
        for table in (checkpoints, processed_events, projection_rows):
            connection.execute(delete(table).where(table.c.consumer == consumer))
