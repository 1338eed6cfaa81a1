"""Replays of the log: as-of views (the plan as it stood then, against the facts known then)
and the from-zero rebuild."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from nats.aio.msg import Msg

from truenorth.alignment.domain.drift import DriftTracker
from truenorth.alignment.domain.projection import Projection
from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import ALIGNMENT, CAMPAIGNS, METRICS, STRATEGY
from truenorth.contract.registry import decode

SOURCE_STREAMS = (STRATEGY, CAMPAIGNS, METRICS)


async def messages_until(
    store: EventStore, stream: str, until: datetime | None
) -> AsyncIterator[Msg]:
    """A stream's messages stored at or before `until` (JetStream's own timestamp)."""
    async for msg in store.read_raw(stream):
        if until is not None and msg.metadata.timestamp > until:
            return
        yield msg


async def replay_projection(
    store: EventStore,
    until: datetime | None = None,
    on_event: Callable[[str], None] | None = None,
) -> Projection:
    projection = Projection()
    for spec in SOURCE_STREAMS:
        async for msg in messages_until(store, spec.name, until):
            try:
                event = decode(msg.data)
            except ValueError:
                continue  # poison: the live projector dead-letters it; a replay skips it too
            projection.apply(event)
            if on_event is not None:
                on_event(spec.name)
    projection.clear_dirty()
    return projection


async def replay_drifts(store: EventStore, until: datetime | None = None) -> DriftTracker:
    """The drifts as published up to `until`, folded from the ALIGNMENT stream."""
    tracker = DriftTracker()
    async for msg in messages_until(store, ALIGNMENT.name, until):
        try:
            tracker.observe(decode(msg.data))
        except ValueError:
            continue
    return tracker
