"""The alignment projector: durable pull consumers on STRATEGY, CAMPAIGNS and METRICS; each
batch folded into the projection's tables and committed with the checkpoint and processed ids
in one transaction, acked after the commit (docs/design.md, "Guarantees").

The hot path uses nats-py directly (batch fetch, ack-all on the last message of a batch):
faststream's per-message handler measured ~3x slower here (docs/design.md, "Why the projector
uses nats-py directly").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine

from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.exposition import render_exposition
from truenorth.alignment.ordering import classify
from truenorth.alignment.outbox import publish_outbox
from truenorth.alignment.partition import CONSUMER, Partition
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.store.fold import Folded, Poison, fold_batch
from truenorth.alignment.views import build_snapshot, drift_tick
from truenorth.bus.deadletter import dead_letter_headers, dead_letter_subject, excerpt
from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import CAMPAIGNS, DLQ, METRICS, STRATEGY, StreamSpec
from truenorth.store.db import CheckpointConflict, read_checkpoints
from truenorth.store.fencing import FencedOut

SOURCE_STREAMS = (STRATEGY, CAMPAIGNS, METRICS)


log = structlog.get_logger()

IDLE_FETCH_SECONDS = 1.0
BUSY_FETCH_SECONDS = 0.02
"""How long a batch fetch collects messages that are still arriving."""
MIN_SNAPSHOT_INTERVAL = 0.02
"""Seconds between snapshot rebuilds at least: at 2 000 events/s a batch lands every few ms."""

Clock = Callable[[], datetime]


def durable_name(stream: str) -> str:
    return f"{CONSUMER}-{stream.lower()}"


@dataclass
class StreamState:
    spec: StreamSpec
    subscription: Any = None
    last_message_at: float = field(default_factory=time.monotonic)
    head: int = 0
    stalled: bool = False


class Projector:
    def __init__(
        self,
        js: JetStreamContext,
        engine: Engine,
        metrics: PipelineMetrics,
        clock: Clock,
        *,
        batch_size: int = 1000,
        ack_wait: float = 30.0,
        stall_seconds: float = 30.0,
        dlq_workspace: str = "default",
        partition: Partition | None = None,
    ) -> None:
        self.js = js
        self.partition = partition
        self.consumer = CONSUMER if partition is None else partition.consumer
        self.store = EventStore(js)
        self.engine = engine
        self.metrics = metrics
        self.clock = clock
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.stall_seconds = stall_seconds
        self.dlq_workspace = dlq_workspace
        self.positions: dict[str, int] = {}
        """Each stream's checkpoint as last committed (or read from the store)."""
        self.streams = {spec.name: StreamState(spec) for spec in SOURCE_STREAMS}
        self.snapshot: Snapshot = Snapshot(at=clock())
        self.exposition: dict[str, bytes] = render_exposition(self.snapshot)
        """`self.snapshot` as Prometheus text: what /metrics serves."""
        self._last_evaluated: datetime | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._snapshot_dirty = asyncio.Event()
        self.folded = asyncio.Event()
        """Set when a batch added events to the projection: drift is evaluated soon after."""
        self.fenced = asyncio.Event()
        """Set when a commit was refused because a newer owner of the partition has written:
        this projector must stop (`truenorth.alignment.workers` forgets the lease)."""

    async def _reload(self) -> None:
        """Positions must never run ahead of the store: after any failed commit, re-read."""
        self.positions = await asyncio.to_thread(read_checkpoints, self.engine, self.consumer)
        self._snapshot_dirty.set()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self._reload()
        await self._publish_outbox()
        for state in self.streams.values():
            state.subscription = await self._subscribe(state.spec.name)
            self._tasks.append(
                asyncio.create_task(self._consume(state), name=f"consume-{state.spec.name}")
            )
        self._tasks.append(asyncio.create_task(self._snapshots(), name="snapshots"))

    async def stop(self) -> None:
        self._stopping.set()
        async with self._lock:  # let the batch in flight commit and ack
            for task in self._tasks:
                task.cancel()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                log.warning("task ignored cancellation at stop", task=task.get_name())
        for state in self.streams.values():
            if state.subscription is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state.subscription.unsubscribe(), timeout=2)

    async def _subscribe(self, stream: str) -> Any:
        """Bind to the durable consumer, (re)creating it so it starts right after the checkpoint."""
        if self.partition is not None:
            spec = self.streams[stream].spec
            position = self.positions.get(stream, 0)
            batch = max(self.batch_size * 4, 1000)
            return await self.partition.subscribe(self.js, spec, position, self.ack_wait, batch)
        durable = durable_name(stream)
        position = self.positions.get(stream, 0)
        try:
            info = await self.js.consumer_info(stream, durable)
            acked = info.ack_floor.stream_seq if info.ack_floor else 0
            delivered = info.delivered.stream_seq if info.delivered else 0
            if (acked or 0) > position or (delivered or 0) > position:
                # Acked beyond the store (store reset or rebuilt elsewhere), or messages
                # still held by a dead instance, which JetStream would only hand back after
                # ack_wait, after the newer ones: start again right after the checkpoint.
                await self.js.delete_consumer(stream, durable)
                raise NotFoundError
        except NotFoundError:
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.ALL,
                ack_wait=self.ack_wait,
                max_ack_pending=max(self.batch_size * 4, 1000),
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=position + 1,
            )
            await self.js.add_consumer(stream, config)
        return await self.js.pull_subscribe_bind(durable=durable, stream=stream)

    # -- consuming -----------------------------------------------------------------------

    async def _consume(self, state: StreamState) -> None:
        caught_up = True
        while not self._stopping.is_set():
            try:
                msgs = await self._fetch(state, caught_up)
            except (nats.errors.TimeoutError, TimeoutError):
                caught_up = True
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection trouble: back off, the tick may resubscribe
                log.warning("fetch failed", stream=state.spec.name, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            caught_up = False
            if msgs:
                state.last_message_at = time.monotonic()
                state.stalled = False
                try:
                    await self.handle_batch(state.spec.name, msgs)
                except asyncio.CancelledError:
                    raise
                except FencedOut as exc:
                    log.warning("fenced out: another worker owns the partition", error=str(exc))
                    self.fenced.set()
                    return
                except Exception as exc:
                    # e.g. the database is briefly unavailable: memory was reloaded, nothing was
                    # acked, so JetStream hands the batch back after ack_wait; keep consuming
                    log.error(
                        "batch failed; it will be redelivered",
                        stream=state.spec.name,
                        error=repr(exc),
                    )
                    await asyncio.sleep(1.0)

    async def _fetch(self, state: StreamState, caught_up: bool) -> list[Msg]:
        """Caught up, wait for the next message and return it at once; behind, take a batch.

        nats-py's fetch of n > 1 waits its whole timeout unless n messages are there: with
        a long timeout that wait is the freshness floor, with a short one an idle service
        polls. One message ends the idle wait; then short batch fetches follow until one
        comes back empty."""
        if caught_up:
            return await state.subscription.fetch(1, timeout=IDLE_FETCH_SECONDS)
        return await state.subscription.fetch(self.batch_size, timeout=BUSY_FETCH_SECONDS)

    async def handle_batch(self, stream: str, msgs: list[Msg]) -> None:
        async with self._lock:
            await self._handle_batch_locked(stream, msgs)

    async def _handle_batch_locked(self, stream: str, msgs: list[Msg]) -> None:
        msgs = sorted(msgs, key=lambda msg: msg.metadata.sequence.stream)
        if self.partition is not None:
            await self._handle_partition_batch(stream, msgs)
            return
        for msg in msgs:
            if (msg.metadata.num_delivered or 1) > 1:
                self.metrics.redeliveries.labels(stream).inc()
        contiguous, stale, early = classify(self.positions.get(stream, 0), msgs)
        if early and not contiguous and await asyncio.to_thread(self._store_ahead, stream):
            # Another instance on the same durable consumer committed the messages before
            # these: reload, or this instance would treat everything it fetches as early.
            log.info("checkpoint moved by another instance: reloading", stream=stream)
            await self._reload()
            contiguous, stale, early = classify(self.positions.get(stream, 0), msgs)
        # Messages after a gap: the gap is held by another instance, or was nak'd back to
        # JetStream. Nak'ing them too scatters the sequence over both instances' fetches until
        # contiguous runs are a message long (a livelock found by
        # tests/integration/faults/test_two_instances.py); instead read the gap from the
        # stream itself and fold the whole range: the checkpoint guard lets one writer win.
        covered: list[Msg] = []
        fold = contiguous
        if early:
            after = contiguous[-1] if contiguous else None
            start = after.metadata.sequence.stream if after else self.positions.get(stream, 0)
            gap = await self._read_range(stream, start + 1, early[-1].metadata.sequence.stream)
            if gap is not None:
                fold, covered, early = contiguous + gap, early, []
        if fold:
            try:
                await self._fold_and_commit(stream, fold)
            except CheckpointConflict:
                log.warning("checkpoint moved by another writer: reloading", stream=stream)
                await self._reload()
                early = contiguous + covered + early
                contiguous, covered = [], []
            except Exception:
                await self._reload()
                raise
        done = covered or contiguous or stale
        if done:
            await done[-1].ack()  # ack policy ALL: acks everything up to it
        for msg in early:
            with contextlib.suppress(Exception):
                await msg.nak(delay=0.2)

    async def _handle_partition_batch(self, stream: str, msgs: list[Msg]) -> None:
        """A partition's messages are a filtered view of the stream (its sequences have gaps)
        and its one owner is the lease's: everything after the checkpoint is folded in order,
        the rest was folded already. A fenced-out commit raises `FencedOut` to the worker."""
        for msg in msgs:
            if (msg.metadata.num_delivered or 1) > 1:
                self.metrics.redeliveries.labels(stream).inc()
        position = self.positions.get(stream, 0)
        fresh = [m for m in msgs if m.metadata.sequence.stream > position]
        if fresh:
            try:
                await self._fold_and_commit(stream, fresh)
            except Exception:
                await self._reload()
                raise
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.ack()

    async def _read_range(self, stream: str, first: int, last: int) -> list[Msg] | None:
        """Messages first..last straight from the stream (None if they cannot be read whole)."""
        try:
            gap = [
                msg
                async for msg in self.store.read_raw(
                    stream, from_sequence=first, until_sequence=last
                )
            ]
        except Exception as exc:
            log.warning("reading a gap failed", stream=stream, error=repr(exc))
            return None
        sequences = [msg.metadata.sequence.stream for msg in gap]
        return gap if sequences == list(range(first, last + 1)) else None

    def _store_ahead(self, stream: str) -> bool:
        stored = read_checkpoints(self.engine, self.consumer).get(stream, 0)
        return stored > self.positions.get(stream, 0)

    async def _fold_and_commit(self, stream: str, msgs: list[Msg]) -> None:
        messages = [
            (m.metadata.sequence.stream, m.subject, m.data, m.metadata.num_delivered or 1)
            for m in msgs
        ]
        expected = self.positions.get(stream, 0)
        started = time.perf_counter()
        folded = await asyncio.to_thread(self._commit, stream, expected, messages)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        for poison in folded.poison:
            await self._dead_letter(stream, poison)
        self.positions[stream] = messages[-1][0]
        self.metrics.applied.labels(stream).inc(folded.applied)
        if folded.applied:
            self.folded.set()
        self.metrics.last_sequence.labels(stream).set(self.positions[stream])
        self._snapshot_dirty.set()

    def _commit(self, stream: str, expected: int, messages: list[Any]) -> Folded:
        with self.engine.begin() as connection:
            if self.partition is not None:
                self.partition.fence(connection)
            return fold_batch(connection, self.consumer, stream, expected, messages)

    async def _dead_letter(self, stream: str, poison: Poison) -> None:
        headers = dead_letter_headers(
            service=CONSUMER,
            door="bus",
            subject=poison.subject,
            reason="undecodable",
            error=poison.error,
            attempts=poison.attempts,
            body=poison.payload,
            original_stream=stream,
            original_sequence=poison.sequence,
        )
        await self.js.publish(
            dead_letter_subject(self.dlq_workspace, CONSUMER),
            excerpt(poison.payload),
            headers=headers,
        )
        log.warning("poison event dead-lettered", stream=stream, sequence=poison.sequence)

    # -- drift, tick and snapshot --------------------------------------------------------

    async def tick(self) -> None:
        """Evaluate drift at the clock's now, commit transitions with an outbox, publish."""
        try:
            await self._tick()
        except FencedOut as exc:
            log.warning("fenced out at a drift tick", error=str(exc))
            self.fenced.set()
        finally:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A cancellation swallowed below (3.11's wait_for can lose one that races a
                # timeout; nats-py turns some into its own errors) left the ticker looping
                # and the service's shutdown waiting for it forever: re-raise it.
                raise asyncio.CancelledError

    async def _tick(self) -> None:
        async with self._lock:
            now = self.clock()
            # the wall clock always moves; a stepped clock (the demo's lockstep) that has not
            # moved has nothing new to judge at: a half-folded burst is never evaluated
            if now != self._last_evaluated:
                # seconds at thousands of objectives: keep the event loop free for scrapes
                scope, fence = self._scope_and_fence()
                await asyncio.to_thread(drift_tick, self.engine, now, scope, fence)
                self._last_evaluated = now
            self.metrics.last_tick.set(now.timestamp())
            self._snapshot_dirty.set()
        await self._publish_outbox()
        await self._observe_streams()

    async def _publish_outbox(self) -> None:
        await publish_outbox(self.engine, self.store, self._scope())

    def _scope(self) -> Callable[[str], bool] | None:
        """The workspaces this projector answers for: all, or its partition's."""
        return None if self.partition is None else self.partition.owns

    def _scope_and_fence(
        self,
    ) -> tuple[Callable[[str], bool] | None, Callable[[Connection], None] | None]:
        if self.partition is None:
            return None, None
        return self.partition.owns, self.partition.fence

    async def _observe_streams(self) -> None:
        """Lag, DLQ size, and the stall check (nats.py #504: a pull subscription can stop
        receiving after a server restart; we resubscribe and report unready meanwhile)."""
        if self.partition is not None:
            specs = [state.spec for state in self.streams.values()]
            await self.partition.observe(self.js, specs, self.metrics.partition_lag)
            return
        try:
            for name, state in self.streams.items():
                info = await self.js.stream_info(name)
                state.head = info.state.last_seq
                lag = max(0, state.head - self.positions.get(name, 0))
                self.metrics.lag.labels(name).set(lag)
                idle = time.monotonic() - state.last_message_at
                state.stalled = lag > 0 and idle > self.stall_seconds
                self.metrics.stalled.labels(name).set(1 if state.stalled else 0)
                if lag > 0 and idle > self.stall_seconds / 2:
                    await self._resubscribe(state)
            dlq = await self.js.stream_info(DLQ.name)
            self.metrics.dlq_size.set(dlq.state.messages)
        except Exception as exc:
            log.warning("stream observation failed", error=repr(exc))

    async def _resubscribe(self, state: StreamState) -> None:
        log.warning("consumer idle with pending messages: resubscribing", stream=state.spec.name)
        old = state.subscription
        state.subscription = await self._subscribe(state.spec.name)
        with contextlib.suppress(Exception):
            await old.unsubscribe()

    def stalled_streams(self) -> list[str]:
        return [name for name, state in self.streams.items() if state.stalled]

    async def _snapshots(self) -> None:
        """Rebuild the snapshot and its exposition when the projection changed, in a thread
        (reading the tables needs no lock: each commit is whole); then wait at least as long
        as the build took, so a large projection is not rebuilt back to back."""
        while not self._stopping.is_set():
            await self._snapshot_dirty.wait()
            self._snapshot_dirty.clear()
            started = time.perf_counter()
            try:
                snapshot = await asyncio.to_thread(self.take_snapshot)
                exposition = await asyncio.to_thread(render_exposition, snapshot)
                self.snapshot, self.exposition = snapshot, exposition
            except Exception as exc:  # keep serving the last snapshot; retry on change
                log.error("snapshot build failed", error=repr(exc))
            took = time.perf_counter() - started
            self.metrics.snapshot_seconds.observe(took)
            await asyncio.sleep(max(MIN_SNAPSHOT_INTERVAL, took))

    def take_snapshot(self) -> Snapshot:
        return build_snapshot(self.engine, self.clock(), scope=self._scope())
