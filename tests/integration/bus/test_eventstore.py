"""JetStream as the event store, against a real nats-server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType

from tests.samples import OBSERVATION
from truenorth.bus.embedded import EmbeddedNats, EmbeddedNatsError, free_port
from truenorth.bus.eventstore import (
    ConcurrencyConflict,
    EventStore,
    _Puller,
    provision,
    stream_sequence,
)
from truenorth.bus.streams import ALL_STREAMS, METRICS
from truenorth.contract.metrics import MetricObserved


def observed(workspace: str, observation_id: str, campaign: str = "c-1") -> MetricObserved:
    data = OBSERVATION.model_copy(
        update={"observation_id": observation_id, "campaign_id": campaign}
    )
    return MetricObserved(workspace=workspace, aggregate_id=campaign, data=data)


async def count(store: EventStore, workspace: str) -> int:
    return len([e async for e in store.read(METRICS.name) if e.event.workspace == workspace])


async def test_provisioning_twice_changes_nothing(js: JetStreamContext) -> None:
    assert await provision(js) == []
    for spec in ALL_STREAMS:
        config = (await js.stream_info(spec.name)).config
        assert config.deny_delete
        assert config.storage == StorageType.FILE
        if spec.default_limits is None:  # events: kept whole; INTAKE and DLQ are bounded
            assert config.max_age == 0


async def test_same_event_id_is_stored_once(js: JetStreamContext, workspace: str) -> None:
    store = EventStore(js)
    event = observed(workspace, "o-1")
    first = await store.append(event)
    second = await store.append(event)
    assert not first.duplicate
    assert second.duplicate
    assert second.sequence == first.sequence
    assert await count(store, workspace) == 1


async def test_two_writers_with_the_same_expected_sequence_one_wins(
    js: JetStreamContext, workspace: str
) -> None:
    store = EventStore(js)
    base = await store.append(observed(workspace, "o-0"), expected_subject_sequence=0)
    results = await asyncio.gather(
        store.append(observed(workspace, "o-a"), expected_subject_sequence=base.sequence),
        store.append(observed(workspace, "o-b"), expected_subject_sequence=base.sequence),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert await count(store, workspace) == 2


async def test_a_new_aggregate_expects_sequence_zero(js: JetStreamContext, workspace: str) -> None:
    store = EventStore(js)
    await store.append(observed(workspace, "o-1"), expected_subject_sequence=0)
    with pytest.raises(ConcurrencyConflict):
        await store.append(observed(workspace, "o-2"), expected_subject_sequence=0)


async def test_read_aggregate_returns_its_events_and_last_sequence(
    js: JetStreamContext, workspace: str
) -> None:
    store = EventStore(js)
    await store.append(observed(workspace, "o-1", "c-1"))
    other = await store.append(observed(workspace, "o-2", "c-2"))
    last = await store.append(observed(workspace, "o-3", "c-1"))
    events, sequence = await store.read_aggregate(workspace, "metrics", "c-1")
    assert [e.data.observation_id for e in events] == ["o-1", "o-3"]  # type: ignore[union-attr]
    assert sequence == last.sequence
    assert sequence != other.sequence
    assert await store.read_aggregate(workspace, "metrics", "none") == ([], 0)


async def test_replay_from_a_sequence_and_from_a_time(js: JetStreamContext, workspace: str) -> None:
    store = EventStore(js)
    first = await store.append(observed(workspace, "o-1"))
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)
    await store.append(observed(workspace, "o-2"))
    from_seq = [
        e.event.data.observation_id  # type: ignore[union-attr]
        async for e in store.read(METRICS.name, from_sequence=first.sequence + 1)
        if e.event.workspace == workspace
    ]
    from_time = [
        e.event.data.observation_id  # type: ignore[union-attr]
        async for e in store.read(METRICS.name, from_time=middle)
        if e.event.workspace == workspace
    ]
    assert from_seq == ["o-2"]
    assert from_time == ["o-2"]
    future = [e async for e in store.read(METRICS.name, from_time=middle + timedelta(hours=1))]
    assert future == []


def test_embedded_server_starts_when_4222_is_taken(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.0.1", 4222))
            squatter.listen()
        except OSError:
            pass  # something already listens there: the same situation
        with EmbeddedNats(tmp_path / "nats") as server:
            assert server.port != 4222
            assert "sync_interval: always" in (tmp_path / "nats" / "nats-server.conf").read_text()


def test_embedded_server_refuses_a_port_in_use(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(EmbeddedNatsError, match=f"port {port}"):
            EmbeddedNats(tmp_path / "nats", port=port).start()


def test_embedded_server_refuses_an_unwritable_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(EmbeddedNatsError, match="not writable"):
        EmbeddedNats(blocker / "nats").start()


async def test_a_read_waits_out_a_consumer_not_yet_answering(
    js: JetStreamContext, workspace: str
) -> None:
    # In a cluster the consumer's leader may not answer its first pull requests (503, no
    # responders: seen after a node restart). Here the consumer appears 0.5 s after the pulls.
    store = EventStore(js)
    appended = [await store.append(observed(workspace, f"o-{i}")) for i in range(3)]
    name = f"late-{workspace}"
    puller = _Puller(js, METRICS.name, name, batch=10, head=appended[-1].sequence)

    async def create_late() -> None:
        await asyncio.sleep(0.5)
        config = ConsumerConfig(
            name=name,
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=appended[0].sequence,
            inactive_threshold=30.0,
        )
        await js.add_consumer(METRICS.name, config)

    creating = asyncio.create_task(create_late())
    try:
        read = [stream_sequence(m) for msgs in [b async for b in puller.batches(5.0)] for m in msgs]
    finally:
        await creating
        await puller.close()
    assert read == [a.sequence for a in appended]
