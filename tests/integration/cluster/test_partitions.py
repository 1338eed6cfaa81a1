"""Partitioned mirrors on a real nats-server: the server places each workspace in
`partition_of(workspace)`, a partition's consumer sees only its workspaces, in stream order,
at the origin's sequences, and the event store still appends and reads aggregates by their
own subjects. Also on a 3-node cluster with R3 streams, through the loss of a node."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig, SubjectTransform
from nats.js.errors import NotFoundError

from tests.integration.bus.test_eventstore import observed
from tests.integration.cluster.harness import NatsCluster, connect, provision_cluster
from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.eventstore import ConcurrencyConflict, EventStore, provision
from truenorth.bus.partitions import (
    PartitionError,
    consumer_config,
    mirror_config,
    mirror_name,
    original_subject,
    partition_of,
    provision_partitions,
)
from truenorth.bus.streams import METRICS, STRATEGY
from truenorth.contract.envelope import EnvelopeFields

P = 8
WORKSPACES = [f"ws-{n}" for n in range(40)] + ["acme", "b2b-tech", "x", "a-very-long-workspace"]


@pytest.fixture
async def js(tmp_path: Path) -> AsyncIterator[JetStreamContext]:
    server = EmbeddedNats(tmp_path / "nats").start()
    client = await nats.connect(server.url)
    context = client.jetstream(timeout=5.0)
    await provision(context)
    await provision_partitions(context, P)
    yield context
    await client.close()
    server.kill()


async def publish_one_per_workspace(js: JetStreamContext) -> None:
    for workspace in WORKSPACES:
        await js.publish(f"tn.{workspace}.metrics.c-1", b"{}")


async def mirrored(js: JetStreamContext, stream: str, count: int, within: float = 5.0) -> None:
    for _ in range(int(within * 10)):
        try:
            if (await js.stream_info(stream)).state.messages >= count:
                return
        except (nats.errors.Error, TimeoutError):  # a leader election after a node loss
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{stream} did not catch up")


async def placement(js: JetStreamContext, stream: str) -> dict[str, int]:
    """Workspace → partition, as the server stored it in the mirror."""
    placed = {}
    info = await js.stream_info(stream, subjects_filter=">")
    for subject in info.state.subjects or {}:
        _, number, _, workspace, *_ = subject.split(".")
        placed[workspace] = int(number)
    return placed


async def test_the_server_places_each_workspace_in_partition_of(js: JetStreamContext) -> None:
    await publish_one_per_workspace(js)
    await mirrored(js, mirror_name(METRICS), len(WORKSPACES))
    placed = await placement(js, mirror_name(METRICS))
    assert placed == {ws: partition_of(ws, P) for ws in WORKSPACES}
    assert len(set(placed.values())) == P, "every partition gets some of 44 workspaces"


async def test_other_partition_counts_agree_with_the_server_too(js: JetStreamContext) -> None:
    await publish_one_per_workspace(js)
    for count in (1, 3, 5, 16):
        config = dataclasses.replace(mirror_config(METRICS, count), name=f"CHECK_{count}")
        await js.add_stream(config)
        await mirrored(js, config.name, len(WORKSPACES))
        placed = await placement(js, config.name)
        assert placed == {ws: partition_of(ws, count) for ws in WORKSPACES}


async def test_a_partition_consumer_sees_its_workspaces_in_order_at_origin_sequences(
    js: JetStreamContext,
) -> None:
    for round_ in range(3):
        for workspace in WORKSPACES:
            await js.publish(f"tn.{workspace}.metrics.c-{round_}", b"{}")
    await mirrored(js, mirror_name(METRICS), 3 * len(WORKSPACES))
    partition = partition_of("acme", P)
    config = consumer_config("alignment", METRICS, partition)
    await js.add_consumer(mirror_name(METRICS), config)
    sub = await js.pull_subscribe_bind(durable=config.durable_name, stream=mirror_name(METRICS))
    msgs = await sub.fetch(1000, timeout=1)
    mine = [ws for ws in WORKSPACES if partition_of(ws, P) == partition]
    assert len(msgs) == 3 * len(mine)
    sequences = [m.metadata.sequence.stream for m in msgs]
    assert sequences == sorted(sequences)
    for msg in msgs:
        origin = await js.get_msg(METRICS.name, msg.metadata.sequence.stream)
        assert origin.subject == original_subject(msg.subject)


async def test_the_event_store_appends_and_reads_aggregates_as_before(
    js: JetStreamContext,
) -> None:
    store = EventStore(js)
    first = await store.append(observed("acme", "o-1"), expected_subject_sequence=0)
    await store.append(observed("acme", "o-2"), expected_subject_sequence=first.sequence)
    with pytest.raises(ConcurrencyConflict):
        await store.append(observed("acme", "o-3"), expected_subject_sequence=first.sequence)
    events, last = await store.read_aggregate("acme", "metrics", "c-1")
    assert [e.data.observation_id for e in events] == ["o-1", "o-2"]  # type: ignore[attr-defined]
    assert last == await store.last_subject_sequence(METRICS.name, "tn.acme.metrics.c-1")
    await mirrored(js, mirror_name(METRICS), 2)


async def test_provisioning_again_with_the_same_count_changes_nothing(
    js: JetStreamContext,
) -> None:
    assert await provision_partitions(js, P) == []


async def test_another_partition_count_is_a_re_partition_not_an_update(
    js: JetStreamContext,
) -> None:
    with pytest.raises(PartitionError, match=r"TRUENORTH_ALIGNMENT_PARTITIONS=4 .* 8 partitions"):
        await provision_partitions(js, 4)
    info = await js.stream_info(mirror_name(STRATEGY))
    assert "8 partitions" in (info.config.description or "")


async def test_a_transform_on_the_event_stream_itself_would_break_aggregate_reads(
    js: JetStreamContext,
) -> None:
    """Why partitions live in a mirror: a stream transform rewrites the stored subject."""
    transformed = StreamConfig(
        name="TRANSFORMED",
        subjects=["t.*.metrics.>"],
        subject_transform=SubjectTransform(
            src="t.*.metrics.>", dest="t.{{wildcard(1)}}.metrics.{{partition(8,1)}}.>"
        ),
    )
    await js.add_stream(transformed)
    await js.publish("t.acme.metrics.c-1", b"{}")
    with pytest.raises(NotFoundError):
        await js.get_last_msg("TRANSFORMED", "t.acme.metrics.c-1")


async def append_while_settling(store: EventStore, event: EnvelopeFields) -> None:
    """Retried while the cluster settles: a new R3 stream's interest not yet known to the node
    we talk to ("no responders", seen once in CI right after provisioning), or the stream's
    and the mirror's leaders being re-elected after a node loss. The event id is the message
    id, so a retry of an append that was stored is a duplicate, stored once (or refused as a
    conflict with itself: the subject is the event's own)."""
    for _ in range(100):
        try:
            await store.append(event, expected_subject_sequence=0)
            return
        except ConcurrencyConflict:
            return
        except Exception:
            await asyncio.sleep(0.2)
    raise AssertionError(f"could not append {event.event_id} in 20 s")


async def test_partitioned_mirrors_on_r3_streams_survive_a_node_loss(tmp_path: Path) -> None:
    with NatsCluster(tmp_path / "cluster") as cluster:
        await provision_cluster(cluster, P)
        nc = await connect(cluster)
        js = nc.jetstream(timeout=10.0)
        info = await js.stream_info(mirror_name(METRICS))
        assert info.config.num_replicas == 3
        store = EventStore(js, timeout=10.0)
        for workspace in WORKSPACES[:10]:
            await append_while_settling(store, observed(workspace, "o-1"))
        await mirrored(js, mirror_name(METRICS), 10)
        leader = info.cluster.leader if info.cluster else None
        next(node for node in cluster.nodes if node.name == leader).kill()
        for workspace in WORKSPACES[10:20]:
            await append_while_settling(store, observed(workspace, "o-1"))
        # after losing its leader a mirror may wait out nats-server's retry backoff: ~36 s seen
        await mirrored(js, mirror_name(METRICS), 20, within=90)
        placed = await placement(js, mirror_name(METRICS))
        assert placed == {ws: partition_of(ws, P) for ws in WORKSPACES[:20]}
        events, _ = await store.read_aggregate("ws-3", "metrics", "c-1")
        assert len(events) == 1
        await nc.close()


def test_consumer_config_is_a_pull_consumer_with_explicit_acks() -> None:
    config: ConsumerConfig = consumer_config("alignment", METRICS, 0)
    assert config.ack_policy == AckPolicy.EXPLICIT
