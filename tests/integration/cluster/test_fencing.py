"""Fencing tokens in the projection store, on SQLite and a real PostgreSQL: a commit guarded
by an older epoch than the one recorded is refused, and racing transactions are ordered."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert, select

from truenorth.store.db import make_engine, migrate
from truenorth.store.fencing import FencedOut, claim, guard, partition_fences, recorded_epoch
from truenorth.store.schema import checkpoints

CONSUMER = "alignment"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    partition_fences.create(engine, checkfirst=True)  # the lead's migration adds it
    yield engine
    engine.dispose()


def epoch_of(engine: Engine, partition: int) -> int | None:
    with engine.connect() as connection:
        return recorded_epoch(connection, CONSUMER, partition)


def commit_checkpoint(engine: Engine, partition: int, epoch: int, position: int) -> None:
    """A batch: the guard, then the partition's checkpoint, in one transaction."""
    from datetime import UTC, datetime

    with engine.begin() as connection:
        guard(connection, CONSUMER, partition, epoch)
        connection.execute(
            insert(checkpoints).values(
                consumer=f"{CONSUMER}-p{partition}-{position}",
                stream="METRICS",
                position=position,
                updated_at=datetime.now(UTC),
            )
        )


def checkpoint_positions(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(checkpoints.c.position)).scalars())


def test_the_first_guard_records_its_epoch(engine: Engine) -> None:
    commit_checkpoint(engine, 3, epoch=7, position=1)
    assert epoch_of(engine, 3) == 7
    assert epoch_of(engine, 4) is None


def test_the_same_epoch_commits_batch_after_batch(engine: Engine) -> None:
    for position in (1, 2, 3):
        commit_checkpoint(engine, 0, epoch=5, position=position)
    assert checkpoint_positions(engine) == [1, 2, 3]


def test_a_newer_epoch_takes_over_and_the_older_is_refused(engine: Engine) -> None:
    commit_checkpoint(engine, 0, epoch=5, position=1)
    commit_checkpoint(engine, 0, epoch=9, position=2)
    with pytest.raises(FencedOut) as refused:
        commit_checkpoint(engine, 0, epoch=5, position=3)
    assert (refused.value.epoch, refused.value.recorded) == (5, 9)
    assert checkpoint_positions(engine) == [1, 2], "the refused batch wrote nothing"
    assert epoch_of(engine, 0) == 9


def test_epochs_are_per_consumer_and_partition(engine: Engine) -> None:
    claim(engine, CONSUMER, 0, 10)
    claim(engine, "other", 0, 1)
    commit_checkpoint(engine, 1, epoch=2, position=1)  # partition 1 knows nothing of 10
    with pytest.raises(FencedOut):
        claim(engine, CONSUMER, 0, 9)


def test_a_claim_fences_the_previous_owner_before_the_new_one_writes(engine: Engine) -> None:
    commit_checkpoint(engine, 2, epoch=4, position=1)
    claim(engine, CONSUMER, 2, 6)  # the new owner, on acquiring the lease
    with pytest.raises(FencedOut):
        commit_checkpoint(engine, 2, epoch=4, position=2)


def race(engine: Engine, first: int, second: int, *, seeded: bool) -> tuple[str, str]:
    """`first` guards and holds its transaction open while `second` tries in another
    connection; then `first` commits. Returns what each got ('ok' or 'fenced')."""
    if seeded:
        claim(engine, CONSUMER, 0, 1)
    outcome: dict[str, str] = {}
    started = threading.Event()

    def contender() -> None:
        started.set()
        try:
            commit_checkpoint(engine, 0, epoch=second, position=2)
            outcome["second"] = "ok"
        except FencedOut:
            outcome["second"] = "fenced"

    with engine.begin() as connection:
        guard(connection, CONSUMER, 0, first)
        thread = threading.Thread(target=contender)
        thread.start()
        started.wait()
        thread.join(0.5)
        assert thread.is_alive(), "the second writer waits for the first transaction"
    outcome["first"] = "ok"
    thread.join(30)
    return outcome["first"], outcome["second"]


@pytest.mark.parametrize("seeded", [True, False], ids=["row-exists", "first-insert"])
def test_racing_writers_an_older_epoch_arriving_second_is_refused(
    engine: Engine, seeded: bool
) -> None:
    assert race(engine, first=8, second=7, seeded=seeded) == ("ok", "fenced")
    assert epoch_of(engine, 0) == 8


@pytest.mark.parametrize("seeded", [True, False], ids=["row-exists", "first-insert"])
def test_racing_writers_a_newer_epoch_waits_then_takes_over(engine: Engine, seeded: bool) -> None:
    assert race(engine, first=7, second=8, seeded=seeded) == ("ok", "ok")
    assert epoch_of(engine, 0) == 8
    with pytest.raises(FencedOut):
        claim(engine, CONSUMER, 0, 7)
