"""The alignment projector: durable pull consumers on STRATEGY, CAMPAIGNS and METRICS; each
batch folded into the projection's tables and committed with the checkpoint and processed ids
in one transaction, acked after the commit (docs/design.md, "Guarantees").

This module runs the loops: one per source stream, the drift tick and the snapshot rebuild.
`consumers` creates and fetches from the durable consumers, `batches` folds, commits and acks
a batch, `poison` dead-letters undecodable events and `outbox` publishes what a tick committed.

The hot path uses nats-py directly (batch fetch, ack-all on the last message of a batch):
faststream's per-message handler measured ~4x slower here (~9.7k against ~37k msg/s:
docs/design.md, "Known traps").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Connection, Engine

from truenorth.alignment.batches import Batches
from truenorth.alignment.consumers import SOURCE_STREAMS, StreamState, fetch, subscribe_durable
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot, Snapshot
from truenorth.alignment.exposition import render_exposition
from truenorth.alignment.foreground import PROCESS
from truenorth.alignment.outbox import publish_outbox
from truenorth.alignment.partition import CONSUMER, Partition
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.store.drifts import LiveDrifts
from truenorth.alignment.store.plans import LivePlans
from truenorth.alignment.views import build_snapshot, drift_tick, with_campaigns
from truenorth.bus.atomic import ATOMIC_BATCH_MAX, Publisher
from truenorth.bus.streams import DLQ
from truenorth.bus.wire import connection_of
from truenorth.store.fencing import FencedOut

log = structlog.get_logger()

MIN_SNAPSHOT_INTERVAL = 0.02
"""Seconds between snapshot rebuilds at least: at 2 000 events/s a batch lands every few ms."""

Clock = Callable[[], datetime]


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
        self.publisher = Publisher(lambda: connection_of(js), max_in_flight=ATOMIC_BATCH_MAX)
        self._publishing = asyncio.Lock()
        self.engine = engine
        self.metrics = metrics
        self.clock = clock
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.stall_seconds = stall_seconds
        self.streams = {spec.name: StreamState(spec) for spec in SOURCE_STREAMS}
        self.snapshot: Snapshot = Snapshot(at=clock())
        self.exposition: dict[str, bytes] = render_exposition(self.snapshot)
        """`self.snapshot` as Prometheus text: what /metrics serves."""
        self._plans = LivePlans()
        self._kept_drifts = LiveDrifts()
        self._last_evaluated: datetime | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._snapshot_dirty = asyncio.Event()
        self.folded = asyncio.Event()
        """Set when a batch added events to the projection: drift is evaluated soon after."""
        self.first_build = asyncio.Event()
        """Set once the first snapshot build has ended (built or failed): the first drift
        evaluation waits for it."""
        self.fenced = asyncio.Event()
        """Set when a commit was refused because a newer owner of the partition has written:
        this projector must stop (`truenorth.alignment.workers` forgets the lease)."""
        self.batches = Batches(
            js,
            engine,
            metrics,
            self.consumer,
            partition,
            dlq_workspace,
            changed=self._snapshot_dirty,
            folded=self.folded,
        )

    @property
    def positions(self) -> dict[str, int]:
        """Each stream's checkpoint as last committed (or read from the store)."""
        return self.batches.positions

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.batches.reload()
        # what ticks committed before a restart leaves meanwhile: a service answers (health,
        # /metrics) while a large outbox is still going out
        self._tasks.append(asyncio.create_task(self._publish_outbox(), name="outbox"))
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
        position = self.positions.get(stream, 0)
        max_ack_pending = max(self.batch_size * 4, 1000)
        if self.partition is not None:
            spec = self.streams[stream].spec
            return await self.partition.subscribe(
                self.js, spec, position, self.ack_wait, max_ack_pending
            )
        return await subscribe_durable(self.js, stream, position, self.ack_wait, max_ack_pending)

    # -- consuming -----------------------------------------------------------------------

    async def _consume(self, state: StreamState) -> None:
        caught_up = True
        while not self._stopping.is_set():
            try:
                msgs = await fetch(state, caught_up, self.batch_size)
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
                    # e.g. the database is briefly unavailable: positions were reloaded,
                    # nothing was acked, so JetStream hands the batch back after ack_wait;
                    # keep consuming
                    log.error(
                        "batch failed; it will be redelivered",
                        stream=state.spec.name,
                        error=repr(exc),
                    )
                    await asyncio.sleep(1.0)

    async def handle_batch(self, stream: str, msgs: list[Msg]) -> None:
        async with self._lock:
            await self.batches.handle(stream, msgs)

    # -- drift, tick and snapshot --------------------------------------------------------

    async def tick(self) -> float:
        """Evaluate drift at the clock's now, commit transitions with an outbox, publish;
        returns how long the evaluation took (0: nothing new to judge)."""
        try:
            return await self._tick()
        except FencedOut as exc:
            log.warning("fenced out at a drift tick", error=str(exc))
            self.fenced.set()
            return 0.0
        finally:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A cancellation swallowed below (3.11's wait_for can lose one that races a
                # timeout; nats-py turns some into its own errors) left the ticker looping
                # and the service's shutdown waiting for it forever: re-raise it.
                raise asyncio.CancelledError

    async def _tick(self) -> float:
        # Not under the fold's lock: drift rows are written by ticks alone, and a tick reads
        # committed tables, so batches keep landing while it evaluates (under the lock a tick
        # at 100 objectives held the fold up for its whole evaluation: freshness p99 1.4 s →
        # 0.9 s in benchmarks/alignment_freshness, 2026-12-04).
        now = self.clock()
        took = 0.0
        # the wall clock always moves; a stepped clock (the demo's lockstep) that has not
        # moved has nothing new to judge at: a half-folded burst is never evaluated
        if now != self._last_evaluated:
            # seconds at thousands of objectives: keep the event loop free for scrapes
            scope, fence = self._scope_and_fence()
            started = time.perf_counter()
            give_way = PROCESS.giving_way()
            await asyncio.to_thread(
                drift_tick, self.engine, now, scope, fence, self._plans, give_way=give_way
            )
            # its cost, not the time it gave way to readers: spaced by that, ticks under load
            # would grow rarer for the readers' sake
            took = time.perf_counter() - started - give_way.waited
            self._last_evaluated = now
        self.metrics.last_tick.set(now.timestamp())
        self._snapshot_dirty.set()
        await self._publish_outbox()
        await self._observe_streams()
        return took

    async def _publish_outbox(self) -> None:
        async with self._publishing:  # oldest first: one publisher of the outbox at a time
            oldest = await publish_outbox(self.engine, self.publisher, self._scope())
        self.metrics.outbox_oldest.set(0 if oldest is None else oldest.timestamp())

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
        as the build worked, so a large projection is not rebuilt back to back. Its CPU time,
        not its wall time: beside a drift tick or a garbage collection a build waits for the
        interpreter lock, and waiting that long again after it doubled the stall
        (benchmarks/README.md, thirteenth session)."""
        while not self._stopping.is_set():
            await self._snapshot_dirty.wait()
            self._snapshot_dirty.clear()
            started = time.perf_counter()
            worked = 0.0
            try:
                self.snapshot, self.exposition, worked = await asyncio.to_thread(self._build)
            except Exception as exc:  # keep serving the last snapshot; retry on change
                log.error("snapshot build failed", error=repr(exc))
                worked = time.perf_counter() - started
            self.first_build.set()
            self.metrics.snapshot_seconds.observe(time.perf_counter() - started)
            await asyncio.sleep(max(MIN_SNAPSHOT_INTERVAL, worked))

    def _build(self) -> tuple[Snapshot, dict[str, bytes], float]:
        """The live snapshot, its exposition, and the CPU seconds they took; ahead of drift
        ticks (`foreground`)."""
        with PROCESS.running():
            started = time.thread_time()
            snapshot = self.take_snapshot()
            return snapshot, render_exposition(snapshot), time.thread_time() - started

    async def with_campaigns(
        self, snapshot: Snapshot, objectives: Sequence[ObjectiveSnapshot], whole_workspace: bool
    ) -> list[ObjectiveSnapshot]:
        """Objectives of a live snapshot with their campaigns (`views.with_campaigns`)."""
        at = snapshot.at
        return await with_campaigns(self.engine, objectives, at, self._plans, whole_workspace)

    def take_snapshot(self) -> Snapshot:
        return build_snapshot(
            self.engine,
            self.clock(),
            scope=self._scope(),
            plans=self._plans,
            kept_drifts=self._kept_drifts,
            campaigns=False,
        )
