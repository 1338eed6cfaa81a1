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


def test_upserts_made_as_they_are_written_go_in_chunks_and_the_last_one_wins(engine) -> None:  # type: ignore[no-untyped-def]
    from unittest.mock import patch

    import truenorth.store.db as db

    def upserts():  # type: ignore[no-untyped-def]
        for n in range(7):
            yield "outbox", f"k{n % 5}", {"n": n}  # k0 and k1 twice, in different chunks

    with patch.object(db, "UPSERT_CHUNK", 3):
        commit_batch(engine, Batch("alignment", upserts=upserts()))
    assert [payload["n"] for _, _, payload in read_rows(engine, "alignment")] == [5, 6, 2, 3, 4]


def test_rows_are_read_a_page_at_a_time_in_key_order(engine) -> None:  # type: ignore[no-untyped-def]
    from truenorth.store.db import read_rows_page

    keys = [f"0190-{n:04d}" for n in range(25)]
    commit_batch(
        engine, Batch("alignment", upserts=[("outbox", k, {"k": k}) for k in reversed(keys)])
    )
    commit_batch(engine, Batch("alignment", upserts=[("other", "0000", {})]))
    pages, after = [], ""
    while page := read_rows_page(engine, "alignment", "outbox", after, 10):
        pages.append([key for key, _ in page])
        after = page[-1][0]
    assert pages == [keys[:10], keys[10:20], keys[20:]]
    assert read_rows_page(engine, "alignment", "outbox", "", 1) == [(keys[0], {"k": keys[0]})]


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
