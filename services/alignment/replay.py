"""Rebuilding the projection from the log, and its digest.

`rebuild` empties the projection's tables and folds every event of the three source streams
through the same `fold_batch` the live projector uses, a batch per transaction; drifts already
published are restored from the ALIGNMENT stream so a rebuild never announces them again. The
digest covers the fold of the source streams (`PROJECTION_TABLES`): after any crash it equals
the digest of a fresh replay (docs/design.md, "Guarantees").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, delete, select

from truenorth.alignment.consumers import SOURCE_STREAMS, durable_name
from truenorth.alignment.partition import CONSUMER
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.drift_writes import (
    DriftEvent,
    apply_drift_events,
    move_drift_versions,
)
from truenorth.alignment.store.fold import Message, fold_batch
from truenorth.bus.eventstore import EventStore, stream_sequence
from truenorth.bus.streams import ALIGNMENT
from truenorth.contract.registry import decode
from truenorth.store.db import make_engine, reset_consumer

Progress = Callable[[str, int], None]
READ_BATCH = 1000
"""Messages per pull request."""


async def stream_heads(js: JetStreamContext) -> dict[str, int]:
    return {spec.name: (await js.stream_info(spec.name)).state.last_seq for spec in SOURCE_STREAMS}


async def rebuild(
    js: JetStreamContext,
    engine: Engine,
    batch_size: int = 20_000,
    progress: Progress | None = None,
    consumer: str = CONSUMER,
    *,
    own_consumers: bool = True,
    second_process: bool = False,
) -> None:
    """Run with the alignment service stopped: its durable consumers are deleted so that they
    start again right after the rebuilt checkpoints (`own_consumers=False`: a replay into a
    scratch store, the service's consumers untouched). `batch_size` events per transaction.

    `second_process`: batches are folded in a child process while this one reads the next
    from NATS. In a thread the two share one interpreter lock and their costs add up; in two
    processes a rebuild runs at the pace of the slower (benchmarks/README.md, seventh
    session). Worth its ~1 s start only for large logs: the CLI's rebuild uses it."""
    for spec in SOURCE_STREAMS if own_consumers else ():
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(spec.name, durable_name(spec.name))
    with engine.begin() as connection:
        reset_consumer(connection, consumer)
        for table in (*t.PROJECTION_TABLES, t.drifts, t.drift_history, t.acknowledgements):
            connection.execute(delete(table))
        move_drift_versions(connection)  # a live snapshot must not keep the deleted drifts
    with _folder(engine, second_process) as fold:
        await _fold_streams(EventStore(js), fold, batch_size, consumer, progress)
    await restore_drifts(EventStore(js), engine)


async def _fold_streams(
    store: EventStore, fold: Fold, batch_size: int, consumer: str, progress: Progress | None
) -> None:
    """Each source stream in order, a batch folding while the next is read from NATS."""
    for spec in SOURCE_STREAMS:
        position = 0
        inflight: asyncio.Future[int] | None = None
        pending: list[Message] = []
        async for msgs in store.read_batches(spec.name, batch=READ_BATCH):
            pending.extend((stream_sequence(m), m.subject, m.data, 1) for m in msgs)
            if len(pending) >= batch_size:
                position = await _settled(inflight, spec.name, position, progress)
                inflight = fold(consumer, spec.name, position, pending)
                pending = []
        if pending:
            position = await _settled(inflight, spec.name, position, progress)
            inflight = fold(consumer, spec.name, position, pending)
        await _settled(inflight, spec.name, position, progress)


async def _settled(
    inflight: asyncio.Future[int] | None, stream: str, position: int, progress: Progress | None
) -> int:
    """The position once the batch in flight (if any) is committed."""
    if inflight is None:
        return position
    committed = await inflight
    if progress is not None:
        progress(stream, committed - position)
    return committed


@contextlib.contextmanager
def _folder(engine: Engine, second_process: bool) -> Iterator[Fold]:
    """Where batches are folded: a child process with its own engine, or a thread."""
    loop = asyncio.get_running_loop()
    if second_process and engine.url.database not in (None, "", ":memory:"):
        url = engine.url.render_as_string(hide_password=False)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            1, mp_context=spawn, initializer=_open_child_engine, initargs=(url,)
        ) as pool:
            yield lambda *batch: loop.run_in_executor(pool, _commit_in_child, *batch)
        return
    with ThreadPoolExecutor(1) as threads:
        yield lambda *batch: loop.run_in_executor(threads, _commit, engine, *batch)


Fold = Callable[[str, str, int, list[Message]], "asyncio.Future[int]"]
"""(consumer, stream, position, messages) -> the new position, once committed."""
_child_engine: Engine | None = None


def _open_child_engine(url: str) -> None:
    global _child_engine
    _child_engine = make_engine(url)


def _commit_in_child(consumer: str, stream: str, position: int, messages: list[Message]) -> int:
    assert _child_engine is not None
    return _commit(_child_engine, consumer, stream, position, messages)


def _commit(
    engine: Engine, consumer: str, stream: str, position: int, messages: list[Message]
) -> int:
    with engine.begin() as connection:
        fold_batch(connection, consumer, stream, position, messages)
    return messages[-1][0]


async def restore_drifts(store: EventStore, engine: Engine) -> None:
    """Drifts already published stay open/resolved as published."""
    with engine.begin() as connection:
        pending: list[DriftEvent] = []
        async for msg in store.read_raw(ALIGNMENT.name):
            try:
                event = DriftEvent.of(decode(msg.data))
            except ValueError:
                continue
            if event is not None:
                pending.append(event)
            if len(pending) >= RESTORED_PER_WRITE:
                apply_drift_events(connection, pending)
                pending = []
        apply_drift_events(connection, pending)


RESTORED_PER_WRITE = 1_000


def digest(engine: Engine) -> str:
    """sha256 of the projection's rows, each table in primary-key order (by code point)."""
    hasher = hashlib.sha256()
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        for table in t.PROJECTION_TABLES:
            keys = [
                column.collate("C") if postgres and column.type.python_type is str else column
                for column in table.primary_key.columns
            ]
            hasher.update(table.name.encode() + b"\x1e")
            query = select(table).order_by(*keys).execution_options(yield_per=t.STREAMED_ROWS)
            rows = connection.execute(query)
            for row in rows:
                hasher.update(orjson.dumps(list(row), option=orjson.OPT_SORT_KEYS))
                hasher.update(b"\x1e")
    return hasher.hexdigest()


async def replay_digest(js: JetStreamContext) -> str:
    """The digest of a fresh replay of the log into a scratch SQLite store (the service's
    consumers untouched): what the stored digest must equal."""
    import tempfile

    from truenorth.store.db import make_engine, migrate

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/replay.db")
        try:
            migrate(engine)
            await rebuild(js, engine, own_consumers=False)
            return digest(engine)
        finally:
            engine.dispose()
