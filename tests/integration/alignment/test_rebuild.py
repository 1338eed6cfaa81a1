"""`truenorth rebuild` folds in a second process while the first reads from NATS: the tables
it leaves must be exactly those of the in-thread fold, on both databases."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.workload import campaign_events, metric_events, strategy_events
from truenorth.alignment.replay import digest, rebuild, replay_digest
from truenorth.bus.eventstore import connect, provision, subject_of
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, migrate


async def _publish_mix(js, workspace: str) -> int:  # type: ignore[no-untyped-def]
    events = [
        *strategy_events(workspace, 2, 3),
        *campaign_events(workspace, 20, 2, 3),
        *metric_events(workspace, 3_000, 20),
    ]
    # duplicates reuse an event whole: publish them without a message id so JetStream keeps
    # them and the fold has to drop them
    seen: set[str] = set()
    for event in events:
        headers = None if str(event.event_id) in seen else {"Nats-Msg-Id": str(event.event_id)}
        seen.add(str(event.event_id))
        await js.publish(subject_of(event), encode(event), headers=headers)
    return len(events)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_rebuild_folding_in_a_second_process_equals_a_replay(
    nats_url: str, workspace: str, database_url: str
) -> None:
    async def run() -> tuple[str, str]:
        nc = await connect(nats_url)
        js = nc.jetstream()
        await provision(js)
        await _publish_mix(js, workspace)
        engine = make_engine(database_url)
        migrate(engine)
        try:
            # small batches: many hand-overs between the reading and the folding process
            await rebuild(js, engine, batch_size=700, own_consumers=False, second_process=True)
            rebuilt = digest(engine)
        finally:
            engine.dispose()
        expected = await replay_digest(js)
        await nc.drain()
        return rebuilt, expected

    rebuilt, expected = asyncio.run(run())
    assert rebuilt == expected
