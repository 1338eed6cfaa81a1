"""The projection store primitive on SQLite and a real PostgreSQL."""

from __future__ import annotations

import pytest

from truenorth.store.db import (
    Batch,
    CheckpointConflict,
    already_processed,
    commit_batch,
    make_engine,
    migrate,
    read_checkpoints,
    read_rows,
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
