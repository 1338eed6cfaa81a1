"""The projection store primitive on SQLite and a real PostgreSQL."""

from __future__ import annotations

import pytest

from truenorth.store.db import (
    SCHEMA_HEAD,
    Batch,
    CheckpointConflict,
    already_processed,
    commit_batch,
    make_engine,
    migrate,
    read_checkpoints,
    read_rows,
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


def test_batch_commits_rows_checkpoint_and_processed_ids_together(engine) -> None:  # type: ignore[no-untyped-def]
    commit_batch(
        engine,
        Batch(
            "alignment",
            positions={"METRICS": (0, 10)},
            upserts=[("objective", "ws/leads", {"actual": 250})],
            processed_ids=["e1", "e2"],
        ),
    )
    assert read_checkpoints(engine, "alignment") == {"METRICS": 10}
    assert read_rows(engine, "alignment") == [("objective", "ws/leads", {"actual": 250})]
    assert already_processed(engine, "alignment", ["e1", "e3"]) == {"e1"}


def test_batch_deletes_only_the_named_rows_of_its_consumer(engine) -> None:  # type: ignore[no-untyped-def]
    rows = [("outbox", f"e{n}", {"n": n}) for n in range(5)]
    commit_batch(engine, Batch("alignment", upserts=[*rows, ("objective", "e1", {"n": 9})]))
    commit_batch(engine, Batch("other", upserts=rows))
    commit_batch(engine, Batch("alignment", deletes=[("outbox", "e1"), ("outbox", "e3")]))
    assert read_rows(engine, "alignment", "outbox") == [rows[0], rows[2], rows[4]]
    assert read_rows(engine, "alignment", "objective") == [("objective", "e1", {"n": 9})]
    assert len(read_rows(engine, "other", "outbox")) == 5


def test_stale_checkpoint_refuses_the_whole_batch(engine) -> None:  # type: ignore[no-untyped-def]
    commit_batch(engine, Batch("alignment", positions={"METRICS": (0, 10)}))
    with pytest.raises(CheckpointConflict):
        commit_batch(
            engine,
            Batch(
                "alignment",
                positions={"METRICS": (3, 12)},
                upserts=[("objective", "ws/leads", {"actual": 999})],
                processed_ids=["late"],
            ),
        )
    assert read_checkpoints(engine, "alignment") == {"METRICS": 10}
    assert read_rows(engine, "alignment") == []
    assert already_processed(engine, "alignment", ["late"]) == set()


def test_crash_before_commit_leaves_the_checkpoint_where_it_was(engine) -> None:  # type: ignore[no-untyped-def]
    commit_batch(engine, Batch("alignment", positions={"METRICS": (0, 10)}))
    unserialisable = object()  # fails inside the transaction, after the checkpoint moved
    with pytest.raises(TypeError):
        commit_batch(
            engine,
            Batch(
                "alignment",
                positions={"METRICS": (10, 20)},
                upserts=[("objective", "ws/leads", unserialisable)],
                processed_ids=["e9"],
            ),
        )
    assert read_checkpoints(engine, "alignment") == {"METRICS": 10}
    assert already_processed(engine, "alignment", ["e9"]) == set()


def test_two_first_writers_cannot_both_create_the_checkpoint(engine) -> None:  # type: ignore[no-untyped-def]
    commit_batch(engine, Batch("alignment", positions={"METRICS": (0, 5)}))
    with pytest.raises(CheckpointConflict):
        commit_batch(engine, Batch("alignment", positions={"METRICS": (0, 7)}))
