"""Fencing tokens in the projection store: a worker that lost its lease cannot commit.

A worker owns an alignment partition under a lease whose *epoch* grows with every change of
owner (`truenorth.bus.lease`). Every transaction that writes a partition's rows and checkpoint
calls `guard` first, inside that transaction: it records the epoch, or raises `FencedOut` if
a newer one was recorded, so the whole transaction rolls back. A paused worker that wakes up
after its lease passed to another therefore cannot write, whatever it believes.

Call `guard` as the transaction's first statement: on PostgreSQL the row lock it takes then
orders the partition's writers (a newer epoch waits for an older commit in flight, and an older
one arriving after a newer commit is refused), and on SQLite the write lock is taken before
any read, so the transaction never has to upgrade a stale snapshot. Needs READ COMMITTED on
PostgreSQL (its default, and the engine's): the retry after a concurrent first insert must see
the other transaction's row. A worker paused inside the transaction keeps the row locked, so
give alignment's sessions an `idle_in_transaction_session_timeout` below the lease TTL
(docs/design.md, "Partitions and leases").
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Executable,
    Integer,
    String,
    Table,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite

from truenorth.store.schema import metadata

partition_fences = Table(
    "partition_fences",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
)
"""The newest lease epoch that wrote each (consumer, partition)."""


class FencedOut(RuntimeError):
    """A newer owner of the partition has written: this worker's lease is gone."""

    def __init__(self, consumer: str, partition: int, epoch: int, recorded: int | None) -> None:
        super().__init__(
            f"{consumer} partition {partition}: epoch {epoch} is fenced out "
            f"(epoch {recorded} has written since)"
        )
        self.consumer = consumer
        self.partition = partition
        self.epoch = epoch
        self.recorded = recorded


def guard(connection: Connection, consumer: str, partition: int, epoch: int) -> None:
    """Record `epoch` for (consumer, partition) in the caller's transaction, or raise
    `FencedOut` when a newer epoch is recorded (the caller's transaction must then roll
    back: raising out of `engine.begin()` does)."""
    if _raise_to(connection, consumer, partition, epoch):
        return
    if _insert_first(connection, consumer, partition, epoch):
        return
    # another transaction inserted the row between our update and insert: compare again
    if _raise_to(connection, consumer, partition, epoch):
        return
    raise FencedOut(consumer, partition, epoch, recorded_epoch(connection, consumer, partition))


def claim(engine: Engine, consumer: str, partition: int, epoch: int) -> None:
    """`guard` in a transaction of its own: a new owner records its epoch before reading
    anything, so the previous owner's next commit is refused from then on."""
    with engine.begin() as connection:
        guard(connection, consumer, partition, epoch)


def recorded_epoch(connection: Connection, consumer: str, partition: int) -> int | None:
    query = select(partition_fences.c.epoch).where(
        partition_fences.c.consumer == consumer, partition_fences.c.partition == partition
    )
    value = connection.execute(query).scalar()
    return None if value is None else int(value)


def _raise_to(connection: Connection, consumer: str, partition: int, epoch: int) -> bool:
    statement = (
        sql_update(partition_fences)
        .where(
            partition_fences.c.consumer == consumer,
            partition_fences.c.partition == partition,
            partition_fences.c.epoch <= epoch,
        )
        .values(epoch=epoch)
    )
    return connection.execute(statement).rowcount == 1


def _insert_first(connection: Connection, consumer: str, partition: int, epoch: int) -> bool:
    dialect = connection.dialect.name
    row = {"consumer": consumer, "partition": partition, "epoch": epoch}
    if dialect == "postgresql":
        statement: Executable = (
            postgresql.insert(partition_fences).values(row).on_conflict_do_nothing()
        )
    elif dialect == "sqlite":
        statement = sqlite.insert(partition_fences).values(row).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"partition fences on {dialect}: SQLite or PostgreSQL only")
    return connection.execute(statement).rowcount == 1
