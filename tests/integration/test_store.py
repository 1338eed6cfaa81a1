"""The projection store on SQLite and a real PostgreSQL: migrations, the one-transaction
batch (rows, checkpoint, processed ids) and the checkpoint guard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.replay import digest
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.fold import fold_batch
from truenorth.alignment.store.read import Moment
from truenorth.contract.envelope import EnvelopeFields
from truenorth.store.db import (
    SCHEMA_HEAD,
    CheckpointConflict,
    already_processed_in,
    make_engine,
    migrate,
    read_checkpoints,
    schema_revision,
)


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_migrations_are_idempotent(engine) -> None:  # type: ignore[no-untyped-def]
    migrate(engine)
    assert read_checkpoints(engine, "alignment") == {}


def test_schema_head_is_the_newest_migration(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    from truenorth.store.db import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    assert scripts.get_current_head() == SCHEMA_HEAD == schema_revision(engine)


def test_a_store_at_head_is_opened_without_importing_alembic(database_url: str) -> None:
    """A fresh interpreter (alembic not yet imported) opening a migrated store."""
    import subprocess
    import sys

    engine = make_engine(database_url)
    migrate(engine)
    engine.dispose()
    script = (
        "import sys; from truenorth.store.db import make_engine, migrate; "
        f"e = make_engine({database_url!r}); migrate(e); e.dispose(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_an_empty_store_has_no_revision_until_migrated(database_url: str) -> None:
    engine = make_engine(database_url)  # a new database per test
    try:
        assert schema_revision(engine) is None
        migrate(engine)
        assert schema_revision(engine) == SCHEMA_HEAD
    finally:
        engine.dispose()


def _messages(events: list[EnvelopeFields], first: int = 1) -> list[tuple[int, str, bytes, int]]:
    return [
        (first + i, f"tn.{e.workspace}.x.{e.aggregate_id}", e.model_dump_json().encode(), 1)
        for i, e in enumerate(events)
    ]


def _fold(engine, stream: str, expected: int, events: list[EnvelopeFields], first: int = 1):  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        return fold_batch(connection, "alignment", stream, expected, _messages(events, first))


def _leads(engine) -> float:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        facts = Facts(connection, b.WS, Moment(to_micros(datetime(2030, 1, 1, tzinfo=UTC))))
        return facts.total(["c-a"], "leads", None)


def test_a_batch_commits_rows_checkpoint_and_processed_ids_together(engine) -> None:  # type: ignore[no-untyped-def]
    events = [b.launched("c-a"), *b.daily("c-a", "leads", [10, 20, 30])]
    folded = _fold(engine, "METRICS", 0, events)
    assert folded.applied == 4
    assert read_checkpoints(engine, "alignment") == {"METRICS": 4}
    assert _leads(engine) == 60
    with engine.connect() as connection:
        ids = [str(e.event_id) for e in events]
        assert already_processed_in(connection, "alignment", ids) == set(ids)


def test_totals_add_up_restatements_in_the_database(engine) -> None:  # type: ignore[no-untyped-def]
    first = b.observed("c-a", "leads", 10, day(1))
    _fold(engine, "METRICS", 0, [b.launched("c-a"), first])
    _fold(engine, "METRICS", 2, [b.restated(first, 25, day(3)), b.restated(first, 40, day(4))], 3)
    assert _leads(engine) == 40
    with engine.connect() as connection:
        rows = connection.execute(select(t.period_totals.c.total)).scalars().all()
    assert rows == [40]


def test_stale_checkpoint_refuses_the_whole_batch(engine) -> None:  # type: ignore[no-untyped-def]
    _fold(engine, "METRICS", 0, [b.launched("c-a")])
    late = b.observed("c-a", "leads", 999, day(1))
    with pytest.raises(CheckpointConflict):
        _fold(engine, "METRICS", 0, [late], 2)
    assert read_checkpoints(engine, "alignment") == {"METRICS": 1}
    assert _leads(engine) == 0
    with engine.connect() as connection:
        assert already_processed_in(connection, "alignment", [str(late.event_id)]) == set()


def test_crash_before_commit_leaves_the_checkpoint_and_rows_where_they_were(engine) -> None:  # type: ignore[no-untyped-def]
    _fold(engine, "METRICS", 0, [b.launched("c-a"), *b.daily("c-a", "leads", [5])])
    before = digest(engine)
    with pytest.raises(RuntimeError), engine.begin() as connection:
        fold_batch(
            connection, "alignment", "METRICS", 2, _messages(b.daily("c-a", "leads", [7], 3), 3)
        )
        raise RuntimeError("killed before the commit")
    assert read_checkpoints(engine, "alignment") == {"METRICS": 2}
    assert digest(engine) == before


def test_two_first_writers_cannot_both_create_the_checkpoint(engine) -> None:  # type: ignore[no-untyped-def]
    _fold(engine, "METRICS", 0, [b.launched("c-a")])
    with pytest.raises(CheckpointConflict):
        _fold(engine, "METRICS", 0, [b.launched("c-b")])


def test_the_same_events_give_the_same_digest_on_both_databases(engine) -> None:  # type: ignore[no-untyped-def]
    """The digest is computed from typed rows in key order by code point: SQLite and
    PostgreSQL (whatever its collation) must agree, or a replay could never match."""
    events = [
        b.strategy_defined(),
        b.objective_added(),
        b.launched("c-Z"),
        b.launched("c-a"),
        *b.daily("c-a", "leads", [1.5, 2.25]),
        b.observed("c-Z", "spend", 100, day(2) + timedelta(hours=3)),
        b.checked_in(
            "medium", day(3), narrative="Ünïcode – ok", corrected_value=2.25, source="CRM"
        ).model_copy(update={"event_id": uuid.UUID(int=7)}),
    ]
    _fold(engine, "MIXED", 0, events)
    assert digest(engine) == EXPECTED_DIGEST


EXPECTED_DIGEST = "b75a1ea636294c53e8e650e5b38d302ef6a602838a9f814b65cbc43057d160be"
"""Computed once on SQLite (schema 0005: totals keyed by metric first); PostgreSQL must give
the same."""


def test_the_migrations_create_exactly_the_tables_the_code_declares(engine) -> None:  # type: ignore[no-untyped-def]
    """A table declared in code but missing from a migration fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import truenorth.alignment.store.tables
    import truenorth.store.fencing  # noqa: F401
    from truenorth.store.schema import metadata

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
