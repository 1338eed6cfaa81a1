"""The drift outbox going out to a real nats-server: oldest first, a page an atomic batch,
nothing lost or doubled when a publish fails or was half done."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.js import JetStreamContext

from tests.unit.alignment.world import World
from truenorth.alignment.domain.drift import Finding
from truenorth.alignment.outbox import PAGE, publish_outbox
from truenorth.alignment.store.drift_writes import pending_outbox
from truenorth.bus.atomic import ATOMIC_BATCH_MAX, Publisher
from truenorth.bus.eventstore import EventStore, connect
from truenorth.bus.streams import ALIGNMENT
from truenorth.bus.wire import connection_of
from truenorth.contract.registry import decode
from truenorth.store.db import make_engine

DRIFTS = 2 * PAGE + 500
"""Three pages, the last one partial."""
EXPLANATION = "silent " * 560
"""Nearly the longest an event carries (4 000 characters): a page is ~4 MB."""
TICK = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def publisher(js: JetStreamContext) -> Publisher:
    return Publisher(lambda: connection_of(js), max_in_flight=ATOMIC_BATCH_MAX)


def opened(workspace: str, sqlite_url: str) -> tuple[World, list[str]]:
    """A tick that opened `DRIFTS` stale-data drifts; their events' ids, oldest first."""
    world = World(engine=make_engine(sqlite_url))
    findings = [
        Finding(workspace, "stale_data", f"c-{n:05d}", "warning", EXPLANATION, {"hours": 30.0})
        for n in range(DRIFTS)
    ]
    world.record(workspace, findings, TICK)
    return world, [event_id for event_id, _ in pending(world)]


def pending(world: World) -> list[tuple[str, bytes]]:
    with world.engine.connect() as connection:
        return pending_outbox(connection, limit=10 * DRIFTS)


async def stored_ids(js: JetStreamContext, workspace: str) -> list[str]:
    events = EventStore(js).read(ALIGNMENT.name)
    return [str(e.event.event_id) async for e in events if e.event.workspace == workspace]


async def test_the_outbox_goes_out_oldest_first_and_leaves_the_table(
    js: JetStreamContext, workspace: str, sqlite_url: str
) -> None:
    world, ids = opened(workspace, sqlite_url)
    sender = publisher(js)

    assert await publish_outbox(world.engine, sender) is None  # none waits

    assert sender.fallbacks == 0  # each page one atomic batch, ~4 MB of events
    assert await stored_ids(js, workspace) == ids
    assert pending(world) == []


async def test_events_published_before_a_crash_are_not_stored_twice(
    js: JetStreamContext, workspace: str, sqlite_url: str
) -> None:
    """A restart finds events in the outbox that went out before its crash: JetStream's
    duplicate check, by event id, keeps one of each."""
    world, ids = opened(workspace, sqlite_url)
    store = EventStore(js)
    for _, payload in pending(world)[PAGE + 10 : PAGE + 40]:
        await store.append(decode(payload))

    sender = publisher(js)
    await publish_outbox(world.engine, sender)

    assert sender.fallbacks == 1  # the page holding them went out event by event
    stored = await stored_ids(js, workspace)
    assert sorted(stored) == ids
    assert len(set(stored)) == len(stored)
    assert pending(world) == []


async def test_a_failed_publish_keeps_what_did_not_go_out(
    js: JetStreamContext, nats_url: str, workspace: str, sqlite_url: str
) -> None:
    world, ids = opened(workspace, sqlite_url)
    closed = await connect(nats_url)
    await closed.close()

    sender = Publisher(lambda: closed, max_in_flight=ATOMIC_BATCH_MAX)

    assert await publish_outbox(world.engine, sender) == TICK  # the oldest waiting
    assert [event_id for event_id, _ in pending(world)] == ids
    assert await stored_ids(js, workspace) == []
