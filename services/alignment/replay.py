"""Replays of the log: as-of views (the plan as it stood then, against the facts known then)
and the from-zero rebuild."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from nats.aio.msg import Msg

from truenorth.alignment.domain.drift import DriftEntry, KeptDrift, kept
from truenorth.alignment.domain.projection import Projection
from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import ALIGNMENT, CAMPAIGNS, METRICS, STRATEGY
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
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


class DriftLog:
    """Every drift as last published, with its state, folded from the ALIGNMENT stream up to
    a time (`?as_of=`; the live service lists its tracker's drifts instead)."""

    def __init__(self) -> None:
        self.drifts: dict[str, tuple[str, KeptDrift, datetime]] = {}
        self.workspaces: dict[str, str] = {}

    def record(self, state: str, data: DriftData, at: datetime) -> None:
        self.drifts[data.drift_id] = (state, kept(data), at)

    def apply(self, event: object) -> None:
        if isinstance(event, DriftDetected | DriftUpdated | DriftResolved):
            self.workspaces[event.data.drift_id] = event.workspace
        if isinstance(event, DriftDetected | DriftUpdated):
            self.record("open", event.data, event.occurred_at)
        elif isinstance(event, DriftResolved):
            self.record("resolved", event.data, event.occurred_at)

    def entries(self) -> list[DriftEntry]:
        return [
            DriftEntry(state, data, at, self.workspaces[drift_id])  # type: ignore[arg-type]
            for drift_id, (state, data, at) in self.drifts.items()
        ]


async def replay_drifts(store: EventStore, until: datetime | None = None) -> DriftLog:
    log = DriftLog()
    async for msg in messages_until(store, ALIGNMENT.name, until):
        try:
            log.apply(decode(msg.data))
        except ValueError:
            continue
    return log
