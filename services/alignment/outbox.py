"""Publishing what drift ticks committed: the outbox, a page at a time, oldest first; what
was published leaves it. A failed publish stops there: the next tick retries from it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from sqlalchemy import Engine

from truenorth.alignment.store.drift_writes import pending_outbox, published
from truenorth.bus.eventstore import EventStore
from truenorth.contract.registry import decode

log = structlog.get_logger()


async def publish_outbox(
    engine: Engine, store: EventStore, scope: Callable[[str], bool] | None = None
) -> None:
    """Publish the pending drift events (of the workspaces in `scope`, a partition's)."""

    def page() -> list[tuple[str, bytes]]:
        with engine.connect() as connection:
            return pending_outbox(connection, scope=scope)

    def done(event_ids: list[str]) -> None:
        with engine.begin() as connection:
            published(connection, event_ids)

    while rows := await asyncio.to_thread(page):
        sent = []
        for event_id, payload in rows:
            try:
                await store.append(decode(payload))
            except Exception as exc:
                log.warning("drift publish failed; will retry", error=repr(exc))
                break
            sent.append(event_id)
        if sent:
            await asyncio.to_thread(done, sent)
        if len(sent) < len(rows):
            return
