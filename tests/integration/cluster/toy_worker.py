"""A worker process with a toy projection, for the failover tests and benchmark: each
partition's run reads its METRICS partition from the partitioned mirror and records every
event's stream sequence once, with a checkpoint, guarded by its lease epoch.

    python -m tests.integration.cluster.toy_worker --nats URL,URL,URL --db URL --partitions P
        --worker-id ID --log FILE

It writes one JSON line per ownership event to --log ({"event": "started"|"stopped"|"fenced",
"partition", "epoch", "t"}), which the tests read to time takeovers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    update,
)

from truenorth.bus.lease import LeaseTiming
from truenorth.bus.partitions import consumer_config, mirror_name
from truenorth.bus.streams import METRICS
from truenorth.store.db import make_engine
from truenorth.store.fencing import claim, guard, partition_fences

CONSUMER = "toy"
BATCH = 200
FOLD_SECONDS = 0.05
"""Each batch 'folds' this long between reading and committing, like a real projector."""
IDLE_IN_TRANSACTION_MS = 3_000
"""PostgreSQL ends a session idle in a transaction this long: a worker paused mid-commit
would otherwise hold the partition's fence row locked, and the next owner's claim would
wait for as long as the pause lasts (docs/design.md, "Partitions and leases")."""

toy_metadata = MetaData()
toy_events = Table(
    "toy_events",
    toy_metadata,
    Column("commit_order", Integer, primary_key=True, autoincrement=True),
    Column("sequence", BigInteger, nullable=False, unique=True),
    Column("partition", Integer, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
)
toy_checkpoints = Table(
    "toy_checkpoints",
    toy_metadata,
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
)


def toy_engine(url: str) -> Engine:
    if not url.startswith("postgresql"):
        return make_engine(url)
    options = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    return create_engine(url, pool_pre_ping=True, connect_args={"options": options})


def create_tables(engine: Engine) -> None:
    toy_metadata.create_all(engine)
    partition_fences.create(engine, checkfirst=True)


def position_of(engine: Engine, partition: int) -> int:
    with engine.connect() as connection:
        query = select(toy_checkpoints.c.position).where(toy_checkpoints.c.partition == partition)
        return int(connection.execute(query).scalar() or 0)


def commit(
    engine: Engine, partition: int, epoch: int, worker: str, msgs: list[tuple[int, str]]
) -> None:
    with engine.begin() as connection:
        guard(connection, CONSUMER, partition, epoch)
        where = toy_checkpoints.c.partition == partition
        position = int(
            connection.execute(select(toy_checkpoints.c.position).where(where)).scalar() or 0
        )
        fresh = [(seq, subject) for seq, subject in msgs if seq > position]
        if not fresh:
            return
        connection.execute(
            insert(toy_events),
            [
                {
                    "sequence": s,
                    "partition": partition,
                    "epoch": epoch,
                    "worker": worker,
                    "subject": subj,
                }
                for s, subj in fresh
            ],
        )
        last = max(seq for seq, _ in fresh)
        if (
            connection.execute(update(toy_checkpoints).where(where).values(position=last)).rowcount
            == 0
        ):
            connection.execute(insert(toy_checkpoints).values(partition=partition, position=last))


class Toy:
    def __init__(
        self,
        js: JetStreamContext,
        engine: Engine,
        worker: str,
        log: Path,
        batch: int = BATCH,
        fold_seconds: float = FOLD_SECONDS,
    ) -> None:
        self.js = js
        self.engine = engine
        self.worker = worker
        self.log_file = log.open("a", buffering=1)
        self.batch = batch
        self.fold_seconds = fold_seconds

    def log(self, event: str, **fields: Any) -> None:
        line = {"event": event, "worker": self.worker, "t": time.time(), **fields}
        self.log_file.write(json.dumps(line) + "\n")

    async def subscribe(self, partition: int) -> Any:
        """The partition's durable consumer, recreated to start right after the checkpoint:
        the previous owner's unacknowledged messages would otherwise be redelivered after
        newer ones, and the checkpoint would then skip them."""
        position = await asyncio.to_thread(position_of, self.engine, partition)
        config = consumer_config(CONSUMER, METRICS, partition, start_after=position, ack_wait=2.0)
        stream = mirror_name(METRICS)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(stream, config.durable_name)
        await self.js.add_consumer(stream, config)
        return await self.js.pull_subscribe_bind(durable=config.durable_name, stream=stream)

    async def run_partition(self, partition: int, epoch: int, stop: asyncio.Event) -> None:
        await asyncio.to_thread(claim, self.engine, CONSUMER, partition, epoch)
        self.log("started", partition=partition, epoch=epoch)
        try:
            sub = None
            while not stop.is_set():
                try:
                    sub = sub or await self.subscribe(partition)
                    msgs = await sub.fetch(self.batch, timeout=0.5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except (nats.errors.Error, APIError) as exc:  # a NATS node down: retry
                    self.log("retry", partition=partition, error=repr(exc))
                    await asyncio.sleep(0.5)
                    continue
                await asyncio.sleep(self.fold_seconds)
                batch = [(m.metadata.sequence.stream, m.subject) for m in msgs]
                await asyncio.to_thread(commit, self.engine, partition, epoch, self.worker, batch)
                for msg in msgs:
                    await msg.ack()
        except Exception as exc:
            self.log(
                "fenced" if type(exc).__name__ == "FencedOut" else "failed",
                partition=partition,
                epoch=epoch,
                error=repr(exc),
            )
            raise
        finally:
            self.log("stopped", partition=partition, epoch=epoch)


async def run(args: argparse.Namespace) -> None:
    from truenorth.alignment.workers import start_worker

    nc = await nats.connect(
        servers=args.nats.split(","),
        name=args.worker_id,
        reconnect_time_wait=0.2,
        max_reconnect_attempts=-1,
        connect_timeout=2,
    )
    engine = toy_engine(args.db)
    toy = Toy(
        nc.jetstream(timeout=2.0),
        engine,
        args.worker_id,
        Path(args.log),
        batch=args.batch,
        fold_seconds=args.fold_seconds,
    )
    worker = await start_worker(
        nc,
        args.partitions,
        toy.run_partition,
        timing=LeaseTiming(),
        replicas=args.replicas,
        worker_id=args.worker_id,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    toy.log("joined")
    await worker.run(stop)
    await nc.close()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--fold-seconds", type=float, default=FOLD_SECONDS)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse()))
