"""Fixtures: a 3-node nats-server cluster, streams and partitioned mirrors provisioned R3,
and toy worker processes (tests/integration/cluster/toy_worker.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.integration.cluster.harness import NatsCluster
from tests.integration.cluster.toy_worker import create_tables
from truenorth.bus.eventstore import provision
from truenorth.bus.lease import LeaseTiming, provision_lease_buckets
from truenorth.bus.partitions import provision_partitions
from truenorth.store.db import make_engine

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster") as running:
        yield running


async def connect(cluster: NatsCluster) -> nats.NATS:
    return await nats.connect(
        servers=cluster.urls, reconnect_time_wait=0.2, max_reconnect_attempts=-1
    )


async def provision_cluster(cluster: NatsCluster, partitions: int) -> None:
    """Streams, partitioned mirrors and lease buckets, R3 (retried while the cluster settles)."""
    nc = await connect(cluster)
    js = nc.jetstream(timeout=5.0)
    deadline = time.monotonic() + 30
    while True:
        try:
            await provision(js, replicas=3)
            await provision_partitions(js, partitions, replicas=3)
            await provision_lease_buckets(js, LeaseTiming().ttl, replicas=3)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    await nc.close()


@dataclass
class ToyWorkers:
    """Toy worker processes on one cluster and one database, with their ownership logs."""

    cluster: NatsCluster
    root: Path
    db_url: str
    partitions: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_path(self, worker: str) -> Path:
        return self.root / f"{worker}.jsonl"

    def start(self, worker: str) -> None:
        command = [
            sys.executable,
            "-m",
            "tests.integration.cluster.toy_worker",
            "--nats",
            ",".join(self.cluster.urls),
            "--db",
            self.db_url,
            "--partitions",
            str(self.partitions),
            "--worker-id",
            worker,
            "--log",
            str(self.log_path(worker)),
        ]
        output = (self.root / f"{worker}.out").open("ab")
        self.processes[worker] = subprocess.Popen(
            command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )

    def signal(self, worker: str, sig: signal.Signals) -> None:
        os.kill(self.processes[worker].pid, sig)

    def kill(self, worker: str) -> float:
        """kill -9; returns when it happened (time.time())."""
        self.processes[worker].kill()
        self.processes[worker].wait()
        return time.time()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()

    def events(self) -> list[dict[str, Any]]:
        lines = []
        for path in self.root.glob("*.jsonl"):
            lines += [json.loads(line) for line in path.read_text().splitlines() if line]
        return sorted(lines, key=lambda e: e["t"])

    def owners(self) -> dict[int, tuple[str, int]]:
        """Partition → (worker, epoch) of the runs started and not stopped."""
        owned: dict[int, tuple[str, int]] = {}
        for event in self.events():
            if event["event"] == "started":
                owned[event["partition"]] = (event["worker"], event["epoch"])
            elif event["event"] == "stopped" and owned.get(event["partition"]) == (
                event["worker"],
                event["epoch"],
            ):
                del owned[event["partition"]]
        return owned

    def wait_owned(self, check: Any, timeout: float = 30.0, what: str = "") -> dict[int, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owners = self.owners()
            if check(owners):
                return owners
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}: owners {self.owners()}")


@pytest.fixture
def toy_workers(cluster: NatsCluster, tmp_path: Path) -> Iterator[ToyWorkers]:
    partitions = 6
    asyncio.run(provision_cluster(cluster, partitions))
    db_url = f"sqlite:///{tmp_path / 'toy.db'}"
    engine = make_engine(db_url)
    create_tables(engine)
    engine.dispose()
    workers = ToyWorkers(cluster, tmp_path, db_url, partitions)
    yield workers
    workers.stop_all()
