"""Partition workers in real processes on a 3-node NATS cluster (R3 streams, partitioned
mirrors, lease buckets) with a toy projection in the embedded PostgreSQL: kill -9 a worker,
pause one past its lease, add one, kill a NATS node. Each time every event is recorded
exactly once, in the partition of its workspace, and no commit lands with an epoch older
than one already committed for its partition."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter, defaultdict

import nats
from nats.js import JetStreamContext
from sqlalchemy import func, select

from tests.integration.cluster.harness import NatsCluster, ToyWorkers, connect
from tests.integration.cluster.toy_worker import toy_events
from truenorth.bus.lease import LEASES_BUCKET, WORKERS_BUCKET, LeaseTiming
from truenorth.bus.partitions import partition_of
from truenorth.bus.streams import METRICS
from truenorth.store.db import make_engine

WORKSPACES = [f"ws-{n}" for n in range(12)]
TAKEOVER_LIMIT = 10.0


async def _publish(cluster: NatsCluster, count: int, tag: str) -> None:
    nc = await connect(cluster)
    js = nc.jetstream(timeout=10.0)
    subjects = [f"tn.{WORKSPACES[i % len(WORKSPACES)]}.metrics.{tag}-{i}" for i in range(count)]
    for start in range(0, count, 50):
        await asyncio.gather(*(_publish_one(js, s) for s in subjects[start : start + 50]))
    await nc.close()


async def _publish_one(js: JetStreamContext, subject: str) -> None:
    """Retried while a stream elects a new leader (same message id: stored once)."""
    for _ in range(60):
        try:
            await js.publish(subject, b"{}", headers={"Nats-Msg-Id": subject})
            return
        except (nats.errors.Error, TimeoutError):
            await asyncio.sleep(0.5)
    raise AssertionError(f"could not publish {subject}")


def publish(cluster: NatsCluster, count: int, tag: str) -> None:
    asyncio.run(_publish(cluster, count, tag))


async def _stream_count(cluster: NatsCluster) -> int:
    nc = await connect(cluster)
    info = await nc.jetstream(timeout=5.0).stream_info(METRICS.name)
    await nc.close()
    return int(info.state.messages)


def rows(workers: ToyWorkers) -> list[dict]:  # type: ignore[type-arg]
    engine = make_engine(workers.db_url)
    with engine.connect() as connection:
        result = [dict(r._mapping) for r in connection.execute(select(toy_events))]
    engine.dispose()
    return result


def wait_all_recorded(workers: ToyWorkers, timeout: float = 90.0) -> list[dict]:  # type: ignore[type-arg]
    expected = asyncio.run(_stream_count(workers.cluster))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine = make_engine(workers.db_url)
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(toy_events)).scalar()
        engine.dispose()
        if count == expected:
            return rows(workers)
        time.sleep(0.3)
    raise AssertionError(f"{count} of {expected} events recorded")


def assert_exactly_once_in_its_partition(workers: ToyWorkers, recorded: list[dict]) -> None:  # type: ignore[type-arg]
    sequences = [row["sequence"] for row in recorded]
    assert len(sequences) == len(set(sequences))
    for row in recorded:
        workspace = row["subject"].split(".")[3]  # p.<n>.tn.<ws>.metrics.<id>
        assert row["partition"] == partition_of(workspace, workers.partitions)


def assert_no_stale_epoch_committed(recorded: list[dict]) -> None:  # type: ignore[type-arg]
    newest: dict[int, int] = defaultdict(int)
    for row in sorted(recorded, key=lambda r: r["commit_order"]):
        assert row["epoch"] >= newest[row["partition"]], f"stale commit {row}"
        newest[row["partition"]] = row["epoch"]


def all_owned(workers: ToyWorkers, count: int | None = None):  # type: ignore[no-untyped-def]
    """Every partition owned; with `count`, evenly by that many workers."""

    def check(owners: dict[int, tuple[str, int]]) -> bool:
        shares = Counter(worker for worker, _ in owners.values())
        even = count is None or (
            len(shares) == count and max(shares.values()) == -(-workers.partitions // count)
        )
        return len(owners) == workers.partitions and even

    return check


def test_partitions_move_within_ten_seconds_after_a_worker_is_killed(
    toy_workers: ToyWorkers,
) -> None:
    for name in ("a", "b", "c"):
        toy_workers.start(name)
    owners = toy_workers.wait_owned(all_owned(toy_workers, 3), what="3 workers owning all")
    publish(toy_workers.cluster, 300, "before")
    victim = owners[0][0]
    lost = [p for p, (worker, _) in owners.items() if worker == victim]
    killed_at = toy_workers.kill(victim)
    publish(toy_workers.cluster, 300, "during")
    after = toy_workers.wait_owned(
        lambda o: all(p in o and o[p][0] != victim for p in lost), timeout=20, what="takeover"
    )
    started = {
        e["partition"]: e["t"]
        for e in toy_workers.events()
        if e["event"] == "started" and e["t"] > killed_at
    }
    delays = [started[p] - killed_at for p in lost]
    assert max(delays) < TAKEOVER_LIMIT, delays
    assert all(after[p][1] > owners[p][1] for p in lost), "the new owner has a higher epoch"
    recorded = wait_all_recorded(toy_workers)
    assert_exactly_once_in_its_partition(toy_workers, recorded)
    assert_no_stale_epoch_committed(recorded)


def test_a_worker_added_takes_partitions_over_without_a_gap(toy_workers: ToyWorkers) -> None:
    toy_workers.start("a")
    toy_workers.start("b")
    toy_workers.wait_owned(all_owned(toy_workers, 2), what="2 workers owning all")
    publish(toy_workers.cluster, 200, "before")
    joined_at = time.time()
    toy_workers.start("c")
    owners = toy_workers.wait_owned(all_owned(toy_workers, 3), what="c owning some")
    taken = [p for p, (worker, _) in owners.items() if worker == "c"]
    events = toy_workers.events()
    for partition in taken:
        stopped = [
            e["t"]
            for e in events
            if e["event"] == "stopped" and e["partition"] == partition and e["t"] > joined_at
        ]
        started = [
            e["t"]
            for e in events
            if e["event"] == "started" and e["partition"] == partition and e["worker"] == "c"
        ]
        gap = started[0] - stopped[0]
        assert 0 <= gap < LeaseTiming().renew_every * 2, f"partition {partition}: {gap:.2f}s"
    publish(toy_workers.cluster, 200, "after")
    recorded = wait_all_recorded(toy_workers)
    assert_exactly_once_in_its_partition(toy_workers, recorded)
    assert_no_stale_epoch_committed(recorded)


def test_a_worker_paused_past_its_lease_is_fenced_out_and_rejoins(
    toy_workers: ToyWorkers,
) -> None:
    # a folds slowly, in small batches: paused, it holds a batch it has not committed yet
    toy_workers.start("a", "--batch", "10", "--fold-seconds", "1.5")
    toy_workers.start("b")
    owners = toy_workers.wait_owned(all_owned(toy_workers, 2), what="2 workers owning all")
    paused = [p for p, (worker, _) in owners.items() if worker == "a"]
    publish(toy_workers.cluster, 300, "before")
    time.sleep(1.0)
    toy_workers.signal("a", signal.SIGSTOP)
    toy_workers.wait_owned(
        lambda o: all(p in o and o[p][0] == "b" for p in paused), timeout=20, what="b taking a's"
    )
    publish(toy_workers.cluster, 200, "while-paused")  # b commits with the new epochs
    time.sleep(2)
    resumed_at = time.time()
    toy_workers.signal("a", signal.SIGCONT)
    toy_workers.wait_owned(all_owned(toy_workers, 2), timeout=30, what="a rejoining")
    events = toy_workers.events()
    a_after = [e for e in events if e["worker"] == "a" and e["t"] > resumed_at]
    assert {e["partition"] for e in a_after if e["event"] == "stopped"} >= set(paused), (
        "every run of the paused worker stopped once it woke"
    )
    assert any(e["event"] == "fenced" for e in a_after), "its batch in hand was refused"
    publish(toy_workers.cluster, 200, "after")
    recorded = wait_all_recorded(toy_workers)
    assert_exactly_once_in_its_partition(toy_workers, recorded)
    assert_no_stale_epoch_committed(recorded)
    late = [r for r in recorded if r["worker"] == "a" and r["partition"] in paused]
    stale = [r for r in late if r["epoch"] == owners[r["partition"]][1]]
    first_b = min(
        r["commit_order"] for r in recorded if r["worker"] == "b" and r["partition"] in paused
    )
    assert all(r["commit_order"] < first_b for r in stale), "no commit with a lost epoch"


def test_leases_survive_the_kill_of_a_nats_node(toy_workers: ToyWorkers) -> None:
    """A node leading neither lease bucket: clients reconnect elsewhere, nothing moves."""
    for name in ("a", "b", "c"):
        toy_workers.start(name)
    owners = toy_workers.wait_owned(all_owned(toy_workers, 3), what="3 workers owning all")
    publish(toy_workers.cluster, 200, "before")
    leaders = asyncio.run(_bucket_leaders(toy_workers.cluster))
    node = next(n for n in toy_workers.cluster.nodes if n.name not in leaders)
    node.kill()
    time.sleep(LeaseTiming().ttl + 2)
    assert toy_workers.owners() == owners, "same owners, same epochs"
    publish(toy_workers.cluster, 200, "after")
    recorded = wait_all_recorded(toy_workers)
    assert_exactly_once_in_its_partition(toy_workers, recorded)
    assert_no_stale_epoch_committed(recorded)


def test_losing_the_lease_buckets_leader_leaves_every_partition_owned(
    toy_workers: ToyWorkers,
) -> None:
    """The leader election (4-9 s in nats-server) may outlast the leases: they are then taken
    again with newer epochs, never two owners committing, nothing lost."""
    for name in ("a", "b", "c"):
        toy_workers.start(name)
    owners = toy_workers.wait_owned(all_owned(toy_workers, 3), what="3 workers owning all")
    publish(toy_workers.cluster, 200, "before")
    leaders = asyncio.run(_bucket_leaders(toy_workers.cluster))
    next(n for n in toy_workers.cluster.nodes if n.name == leaders[0]).kill()
    time.sleep(LeaseTiming().ttl + 2)
    after = toy_workers.wait_owned(all_owned(toy_workers), timeout=30, what="all owned again")
    assert all(after[p][1] >= owners[p][1] for p in owners), "epochs never go back"
    publish(toy_workers.cluster, 200, "after")
    recorded = wait_all_recorded(toy_workers)
    assert_exactly_once_in_its_partition(toy_workers, recorded)
    assert_no_stale_epoch_committed(recorded)


async def _bucket_leaders(cluster: NatsCluster) -> list[str]:
    """The nodes leading the leases bucket and the workers bucket (in that order)."""
    nc = await connect(cluster)
    js = nc.jetstream(timeout=5.0)
    leaders = []
    for bucket in (LEASES_BUCKET, WORKERS_BUCKET):
        info = await js.stream_info(f"KV_{bucket}")
        assert info.cluster is not None and info.cluster.leader
        leaders.append(str(info.cluster.leader))
    await nc.close()
    return leaders
