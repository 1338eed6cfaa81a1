"""Reads a workspace's events from JetStream into a plain list (the review's only input)."""

from __future__ import annotations

import ssl
from typing import Any

import nats

from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import EVENT_STREAMS, SUBJECT_ROOT
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import decode


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


async def load_events(
    url: str,
    workspace: str,
    *,
    user: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> list[EnvelopeFields]:
    """One-shot read for a command: fail fast (no endless reconnect, no traceback logging)
    when the server is unreachable, unlike the services' long-lived connection."""

    async def quiet(_error: Exception) -> None:
        return None

    options: dict[str, Any] = {
        "name": "truenorth-review",
        "allow_reconnect": False,
        "max_reconnect_attempts": 1,
        "connect_timeout": 3,
        "error_cb": quiet,
    }
    if user:
        options.update(user=user, password=password)
    if tls is not None:
        options["tls"] = tls
    nc = await nats.connect(url, **options)
    try:
        return await read_events(EventStore(nc.jetstream()), workspace)
    finally:
        await nc.drain()
