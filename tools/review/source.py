"""Reads a workspace's events from JetStream into a plain list (the review's only input)."""

from __future__ import annotations

from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import EVENT_STREAMS, SUBJECT_ROOT
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import decode
from truenorth.runtime import connect_client
from truenorth.settings import SharedSettings


def workspace_filter(workspace: str, context: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.{context}.>"


async def read_events(store: EventStore, workspace: str) -> list[EnvelopeFields]:
    """Every event of the workspace in STRATEGY, CAMPAIGNS, METRICS and ALIGNMENT, each
    stream in its own order. Undecodable messages are skipped, as every replay does (the live
    projector dead-letters them)."""
    events: list[EnvelopeFields] = []
    for spec in EVENT_STREAMS:
        async for msg in store.read_raw(
            spec.name, filter_subject=workspace_filter(workspace, spec.context)
        ):
            try:
                event = decode(msg.data)
            except ValueError:
                continue
            if event.workspace == workspace:
                events.append(event)
    return events


async def load_events(shared: SharedSettings, workspace: str) -> list[EnvelopeFields]:
    """One-shot read for a command, connected like every other operator command
    (`connect_client`: the services' user and TLS, failing fast when NATS is unreachable)."""
    nc = await connect_client(shared, name="truenorth-review")
    try:
        return await read_events(EventStore(nc.jetstream()), workspace)
    finally:
        await nc.drain()
