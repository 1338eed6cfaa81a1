"""Drop the projection and replay the log from zero, batch by batch, through the same fold
the live projector uses."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from truenorth.alignment.folding import CONSUMER, ProjectionState
from truenorth.alignment.replay import SOURCE_STREAMS
from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import ALIGNMENT
from truenorth.store.db import Batch, commit_batch, reset_consumer

Progress = Callable[[str, int], None]


async def stream_heads(js: JetStreamContext) -> dict[str, int]:
    return {spec.name: (await js.stream_info(spec.name)).state.last_seq for spec in SOURCE_STREAMS}


async def rebuild(
    js: JetStreamContext, engine: Engine, batch_size: int = 5000, progress: Progress | None = None
) -> ProjectionState:
    """Run with the alignment service stopped: its durable consumers are deleted so that they
    start again right after the rebuilt checkpoints."""
    for spec in SOURCE_STREAMS:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(spec.name, f"{CONSUMER}-{spec.name.lower()}")
    reset_consumer(engine, CONSUMER)
    state = ProjectionState()
    store = EventStore(js)
    seen: set[str] = set()
    for spec in SOURCE_STREAMS:
        pending: list[tuple[int, str, bytes, int]] = []
        async for msg in store.read_raw(spec.name, batch=batch_size):
            pending.append((msg.metadata.sequence.stream, msg.subject, msg.data, 1))
            if len(pending) >= batch_size:
                _commit(state, engine, spec.name, pending, seen, progress)
                pending = []
        if pending:
            _commit(state, engine, spec.name, pending, seen, progress)
    await _restore_drift_tracker(state, engine, store)
    return state


async def _restore_drift_tracker(state: ProjectionState, engine: Engine, store: EventStore) -> None:
    """Drifts already published stay open/resolved as published: a rebuild must not announce
    them a second time."""
    async for stored in store.read(ALIGNMENT.name):
        state.tracker.observe(stored.event)
    commit_batch(engine, Batch(CONSUMER, upserts=state.dirty_upserts()))
    state.clear_dirty()


def _commit(
    state: ProjectionState,
    engine: Engine,
    stream: str,
    pending: list[tuple[int, str, bytes, int]],
    seen: set[str],
    progress: Progress | None,
) -> None:
    folded = state.fold(engine, stream, pending, seen_in_memory=seen)
    commit_batch(engine, folded.batch)
    state.committed(folded.batch)
    if progress is not None:
        progress(stream, len(pending))
