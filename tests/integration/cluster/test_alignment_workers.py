"""Alignment partitioned across real worker processes (`truenorth serve alignment` with
TRUENORTH_ALIGNMENT_PARTITIONED) on a 3-node NATS cluster with R3 streams and the embedded
PostgreSQL: a load across 20 workspaces, a worker killed -9 and a NATS node killed mid-way, a
worker paused past its lease and resumed, a worker added during the load. At the end the
shared tables equal a single-process replay of the log (nothing lost, nothing counted twice),
and every partition of the killed worker moved to a live one within 10 s."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from benchmarks.workload import campaign_events, metric_events, strategy_events
from tests.integration.cluster.harness import REPO, NatsCluster, connect, provision_cluster
from truenorth.alignment.replay import digest, replay_digest
from truenorth.bus.embedded import free_port
from truenorth.bus.eventstore import subject_of
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, migrate

PARTITIONS = 6
WORKSPACES = 20
EVENTS = int(os.environ.get("TRUENORTH_CLUSTER_EVENTS", "100000"))
"""Metric events across the 20 workspaces (the issue's 100 000: ~2.5 min here)."""
OWNED = re.compile(r'^truenorth_alignment_partition_owned_epoch\{partition="(\d+)"\} (\S+)$', re.M)


@dataclass
class Workers:
    cluster: NatsCluster
    root: Path
    db_url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str) -> None:
        port = free_port()
        env = {
            **os.environ,
            "TRUENORTH_NATS_URL": ",".join(self.cluster.urls),
            "TRUENORTH_NATS_REPLICAS": "3",
            "TRUENORTH_DATA_DIR": str(self.root / name),
            "TRUENORTH_ALIGNMENT_DATABASE_URL": self.db_url,
            "TRUENORTH_ALIGNMENT_PARTITIONED": "true",
            "TRUENORTH_ALIGNMENT_PARTITIONS": str(PARTITIONS),
            "TRUENORTH_ALIGNMENT_PORT": str(port),
            "TRUENORTH_ALIGNMENT_TICK_SECONDS": "2",
            "TRUENORTH_LOG_LEVEL": "INFO",
        }
        log = (self.root / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "truenorth.serve", "serve", "alignment"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ports[name] = port

    def owned(self, name: str) -> set[int]:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=5).text
        except httpx.HTTPError:
            return set()
        return {int(p) for p, epoch in OWNED.findall(text) if float(epoch) > 0}

    def live(self) -> list[str]:
        return [n for n, p in self.processes.items() if p.poll() is None]

    def owners(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for name in self.live():
            for partition in self.owned(name):
                found.setdefault(partition, []).append(name)
        return found

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with_suppressed(lambda p=process: os.killpg(p.pid, signal.SIGCONT))
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def with_suppressed(action) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ProcessLookupError):
        action()


def eventually(condition, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {seconds}s")


async def publish(cluster: NatsCluster, events: list) -> None:  # type: ignore[type-arg]
    nc = await connect(cluster)
    js = nc.jetstream(timeout=10)

    async def one(event) -> None:  # type: ignore[no-untyped-def]
        headers = {"Nats-Msg-Id": str(event.event_id)}
        for attempt in range(20):  # retried across a node's loss and its elections
            try:
                await js.publish(subject_of(event), encode(event), headers=headers)
                return
            except Exception:
                await asyncio.sleep(0.25 * (attempt + 1))
        raise RuntimeError(f"could not publish {event.event_id}")

    for start in range(0, len(events), 200):
        await asyncio.gather(*(one(e) for e in events[start : start + 200]))
    await nc.close()


def workload(part: int, parts: int) -> list:  # type: ignore[type-arg]
    """Part `part` of `parts` of the load: every workspace's plan and campaigns in part 0,
    then its metric events in slices."""
    events = []
    per_workspace = EVENTS // WORKSPACES
    for w in range(WORKSPACES):
        ws = f"ws{w:02d}"
        if part == 0:
            events += [*strategy_events(ws, 1, 3), *campaign_events(ws, 20, 1, 3)]
        metrics = list(metric_events(ws, per_workspace, 20))
        size = len(metrics) // parts + 1
        events += metrics[part * size : (part + 1) * size]
    return events


@pytest.fixture
def workers(tmp_path: Path, postgres_url: str) -> Iterator[Workers]:
    with NatsCluster(tmp_path / "cluster") as cluster:
        asyncio.run(provision_cluster(cluster, PARTITIONS))
        engine = make_engine(postgres_url)
        migrate(engine)
        engine.dispose()
        running = Workers(cluster, tmp_path, postgres_url)
        try:
            yield running
        finally:
            running.stop_all()


def test_partitioned_workers_survive_kills_and_equal_a_single_replay(workers: Workers) -> None:
    for name in ("w1", "w2", "w3"):
        workers.start(name)
    eventually(lambda: len(workers.owners()) == PARTITIONS, 60, "every partition owned")
    asyncio.run(publish(workers.cluster, workload(0, 4)))

    # a worker killed -9 mid-load: its partitions move to the live ones within 10 s
    victim_partitions = workers.owned("w1")
    assert victim_partitions
    killed_at = time.monotonic()
    os.killpg(workers.processes["w1"].pid, signal.SIGKILL)
    workers.processes["w1"].wait(10)
    eventually(
        lambda: victim_partitions <= set(workers.owners()), 30, "the killed worker's partitions"
    )
    moved_after = time.monotonic() - killed_at
    # the lease's TTL (8 s) and a tick; polled every 0.2 s over HTTP on a loaded machine
    assert moved_after <= 10.0, f"partitions moved after {moved_after:.1f}s"
    asyncio.run(publish(workers.cluster, workload(1, 4)))

    # a NATS node killed mid-load, and restarted
    node = workers.cluster.nodes[2]
    node.kill()
    asyncio.run(publish(workers.cluster, workload(2, 4)))
    workers.cluster.restart(node)

    # a worker paused past its lease, resumed after another took over: fenced, then rejoins
    paused = workers.owned("w2")
    os.killpg(workers.processes["w2"].pid, signal.SIGSTOP)
    eventually(
        lambda: paused <= {p for p, names in workers.owners().items() if "w2" not in names},
        40,
        "the paused worker's partitions taken over",
    )
    os.killpg(workers.processes["w2"].pid, signal.SIGCONT)

    # a worker added during the load takes partitions over
    workers.start("w4")
    asyncio.run(publish(workers.cluster, workload(3, 4)))
    eventually(lambda: workers.owned("w4"), 60, "the added worker owning partitions")
    # each worker's /metrics says what it holds as of its last tick, so while a partition
    # moves to w4 its old owner may still list it for a tick (its commits are fenced: the
    # digests below are the safety check); the handover must settle to one owner each
    eventually(lambda: single_owners(workers.owners()), 60, "every partition owned by one worker")

    async def replayed() -> str:
        nc = await connect(workers.cluster)
        try:
            return await replay_digest(nc.jetstream(timeout=10))
        finally:
            await nc.close()

    expected = asyncio.run(replayed())
    engine = make_engine(workers.db_url)
    try:
        eventually(lambda: digest(engine) == expected, 180, "the tables equal to a replay")
    finally:
        engine.dispose()


def single_owners(owners: dict[int, list[str]]) -> bool:
    return len(owners) == PARTITIONS and all(len(names) == 1 for names in owners.values())
