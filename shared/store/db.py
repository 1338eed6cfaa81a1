"""Engine from settings, migrations, and the one-transaction batch commit (DESIGN §7)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from truenorth.store.schema import checkpoints, processed_events, projection_rows


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
    script_location = resources.files("truenorth.store") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to head (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _upsert(
    connection: Connection, table: Any, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    if not rows:
        return
    dialect = connection.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    non_keys = [c.name for c in table.columns if c.name not in keys]
    if non_keys:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in non_keys}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    connection.execute(statement, list(rows))


@dataclass
class Batch:
    """What one transaction writes: rows, checkpoints moved from expected to new, ids seen."""

    consumer: str
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """stream -> (expected current position, new position)."""
    upserts: list[tuple[str, str, Any]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    processed_ids: list[str] = field(default_factory=list)


def commit_batch(engine: Engine, batch: Batch) -> None:
    """Rows, checkpoints and processed ids in one transaction. The checkpoint update is
    guarded (`WHERE position = expected`), so a second writer's batch is refused whole."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for stream, (expected, new) in batch.positions.items():
            _move_checkpoint(connection, batch.consumer, stream, expected, new, now)
        _upsert(
            connection,
            projection_rows,
            [
                {
                    "consumer": batch.consumer,
                    "kind": kind,
                    "key": key,
                    "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
                }
                for kind, key, payload in batch.upserts
            ],
            ("consumer", "kind", "key"),
        )
        for kind, key in batch.deletes:
            connection.execute(
                delete(projection_rows).where(
                    projection_rows.c.consumer == batch.consumer,
                    projection_rows.c.kind == kind,
                    projection_rows.c.key == key,
                )
            )
        if batch.processed_ids:
            _upsert(
                connection,
                processed_events,
                [{"consumer": batch.consumer, "event_id": i} for i in batch.processed_ids],
                ("consumer", "event_id"),
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


def read_rows(engine: Engine, consumer: str) -> list[tuple[str, str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(projection_rows.c.kind, projection_rows.c.key, projection_rows.c.payload)
            .where(projection_rows.c.consumer == consumer)
            .order_by(projection_rows.c.kind, projection_rows.c.key)
        ).all()
    return [(kind, key, json.loads(payload)) for kind, key, payload in rows]


def already_processed(engine: Engine, consumer: str, event_ids: Iterable[str]) -> set[str]:
    ids = list(event_ids)
    seen: set[str] = set()
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
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
