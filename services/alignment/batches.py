"""Folding a fetched batch at the checkpoint: which messages follow it (a gap held by another
instance is read from the stream itself), folded and committed with the checkpoint and processed
ids in one transaction, acked after the commit (docs/design.md, "Guarantees")."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Engine

from truenorth.alignment.foreground import in_foreground
from truenorth.alignment.ordering import classify
from truenorth.alignment.partition import Partition
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.poison import dead_letter_poison
from truenorth.alignment.store.fold import Folded, fold_batch
from truenorth.bus.eventstore import EventStore
from truenorth.store.db import CheckpointConflict, read_checkpoints

log = structlog.get_logger()


class Batches:
    """One projector's checkpoints and how its batches reach them. `changed` is set whenever
    the projection or the positions moved (a commit, a reload); `folded` when a commit added
    events."""

    def __init__(
        self,
        js: JetStreamContext,
        engine: Engine,
        metrics: PipelineMetrics,
        consumer: str,
        partition: Partition | None,
        dlq_workspace: str,
        *,
        changed: asyncio.Event,
        folded: asyncio.Event,
    ) -> None:
        self.js = js
        self.store = EventStore(js)
        self.engine = engine
        self.metrics = metrics
        self.consumer = consumer
        self.partition = partition
        self.dlq_workspace = dlq_workspace
        self.changed = changed
        self.folded = folded
        self.positions: dict[str, int] = {}
        """Each stream's checkpoint as last committed (or read from the store)."""

    async def reload(self) -> None:
        """Positions must never run ahead of the store: after any failed commit, re-read."""
        self.positions = await asyncio.to_thread(read_checkpoints, self.engine, self.consumer)
        self.changed.set()

    async def handle(self, stream: str, msgs: list[Msg]) -> None:
        """Fold what follows the checkpoint, ack what is folded, nak what must wait. Raises
        when the commit failed (positions reloaded, nothing acked: JetStream redelivers)."""
        msgs = sorted(msgs, key=lambda msg: msg.metadata.sequence.stream)
        for msg in msgs:
            if (msg.metadata.num_delivered or 1) > 1:
                self.metrics.redeliveries.labels(stream).inc()
        if self.partition is not None:
            await self._handle_partition_batch(stream, msgs)
        else:
            await self._handle_shared_batch(stream, msgs)

    async def _handle_shared_batch(self, stream: str, msgs: list[Msg]) -> None:
        contiguous, stale, early = classify(self.positions.get(stream, 0), msgs)
        if early and not contiguous and await asyncio.to_thread(self._store_ahead, stream):
            # Another instance on the same durable consumer committed the messages before
            # these: reload, or this instance would treat everything it fetches as early.
            log.info("checkpoint moved by another instance: reloading", stream=stream)
            await self.reload()
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
                await self.reload()
                early = contiguous + covered + early
                contiguous, covered = [], []
            except Exception:
                await self.reload()
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
        position = self.positions.get(stream, 0)
        fresh = [m for m in msgs if m.metadata.sequence.stream > position]
        if fresh:
            try:
                await self._fold_and_commit(stream, fresh)
            except Exception:
                await self.reload()
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
        loop = asyncio.get_running_loop()
        folded = await in_foreground(self._commit, stream, expected, messages, loop)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.positions[stream] = messages[-1][0]
        self.metrics.applied.labels(stream).inc(folded.applied)
        if folded.applied:
            self.folded.set()
        self.metrics.last_sequence.labels(stream).set(self.positions[stream])
        self.changed.set()

    def _commit(
        self,
        stream: str,
        expected: int,
        messages: list[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> Folded:
        with self.engine.begin() as connection:
            if self.partition is not None:
                self.partition.fence(connection)
            folded = fold_batch(connection, self.consumer, stream, expected, messages)
            # Dead-lettered before the commit: a publish that fails rolls the batch back, so it
            # comes again and is dead-lettered again (at least once). After the commit, the
            # batch came back behind the checkpoint, was acked as done, and the poison was lost.
            for poison in folded.poison:
                asyncio.run_coroutine_threadsafe(
                    dead_letter_poison(self.js, self.dlq_workspace, stream, poison), loop
                ).result()
            return folded
