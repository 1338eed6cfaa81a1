"""Publishing what drift ticks committed: the outbox, a page at a time, oldest first; what
was published leaves it. A failed publish stops there: the next tick retries from it.

A page is one atomic batch (`truenorth.bus.atomic`): JetStream stores it whole and in order,
with one sync. Published one event and one acknowledgement at a time, the ~120 000 drift
events a first tick opens at 10 000 objectives took 75-82 s to leave, 21-22 s now
(`benchmarks/outbox_restart.py`, seventeenth session).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import Engine

from truenorth.alignment.store.drift_writes import oldest_pending, pending_outbox, published
from truenorth.bus.atomic import ATOMIC_BATCH_MAX, MSG_ID, Outgoing, Publisher
from truenorth.bus.eventstore import subject_of
from truenorth.contract.registry import decode

log = structlog.get_logger()

PAGE = ATOMIC_BATCH_MAX
"""Events a page holds: one atomic batch. A larger page would go out as several batches in
flight at once, which JetStream may store out of order."""


async def publish_outbox(
    engine: Engine, publisher: Publisher, scope: Callable[[str], bool] | None = None
) -> datetime | None:
    """Publish the pending drift events (of the workspaces in `scope`, a partition's); when
    the oldest still waiting in the whole outbox occurred (`truenorth_drift_outbox_oldest_...`:
    every partition's workers report the same)."""

    def page() -> list[tuple[str, bytes]]:
        with engine.connect() as connection:
            return pending_outbox(connection, limit=PAGE, scope=scope)

    def done(event_ids: list[str]) -> None:
        with engine.begin() as connection:
            published(connection, event_ids)

    def oldest() -> datetime | None:
        with engine.connect() as connection:
            return oldest_pending(connection)

    while rows := await asyncio.to_thread(page):
        try:
            await publisher.publish_events([outgoing(payload) for _, payload in rows])
        except Exception as exc:
            log.warning("drift publish failed; will retry", error=repr(exc))
            break
        await asyncio.to_thread(done, [event_id for event_id, _ in rows])
    return await asyncio.to_thread(oldest)


def outgoing(payload: bytes) -> Outgoing:
    """An outbox row as published: its subject and its id (JetStream's duplicate check) read
    from the event it holds."""
    event = decode(payload)
    return Outgoing(subject_of(event), payload, {MSG_ID: str(event.event_id)})
