"""`truenorth up`: the embedded nats-server plus the four services as separate processes, kept
running: a service that exits is restarted with a backoff (1 s doubling to 30 s while it keeps
crashing within a minute of its start), the nats-server is restarted on the same port, data
and users if it dies (the services reconnect on their own), and each restart is logged. Only
Ctrl-C or SIGTERM stops everything (`stop`)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from truenorth.bus.embedded import (
    EmbeddedNats,
    EmbeddedNatsError,
    ensure_writable_dir,
    free_port,
    port_in_use,
    write_private,
)
from truenorth.bus.permissions import ALL_USERS, LOCAL, PROVISIONER, render_authorization
from truenorth.endpoints import forget_endpoints, record_endpoints
from truenorth.settings import DEFAULT_PORTS, PRIVATE_UMASK, SERVICES

MALLOC_ARENA_MAX = "2"
"""Services' default (an operator's own setting wins); deploy/Dockerfile sets the same."""


class SupervisorError(RuntimeError):
    """One-line reason `up` cannot run."""


RESTART_BACKOFF_FIRST = 1.0
RESTART_BACKOFF_MAX = 30.0
STABLE_AFTER_SECONDS = 60.0
"""A service up this long has its backoff reset: its next crash is restarted at once-ish."""


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    pump: threading.Thread | None = None
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    backoff: float = 0.0
    restart_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Supervisor:
    data_dir: Path
    nats_port: int = 0
    ports: dict[str, int] = field(default_factory=dict)
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    echo: bool = True
    nats_auth: bool = True
    """Per-service NATS users with publish/subscribe permissions (`truenorth.bus.permissions`),
    fresh random passwords every run; a connection without credentials is the `local` user."""
    nats: EmbeddedNats | None = None
    nats_passwords: dict[str, str] = field(default_factory=dict)
    services: list[ServiceProcess] = field(default_factory=list)

    def plan_ports(self, free: bool) -> None:
        for name in SERVICES:
            if name not in self.ports:
                self.ports[name] = free_port() if free else DEFAULT_PORTS[name]
        for name, port in self.ports.items():
            if port_in_use(port):
                raise SupervisorError(
                    f"port {port} for the {name} service is already in use "
                    f"(use --free-ports or TRUENORTH_{name.upper()}_PORT)"
                )

    def start(self, free_ports: bool = False, ready_timeout: float = 60.0) -> None:
        os.umask(PRIVATE_UMASK)  # the data dir holds every workspace's data and the NATS passwords
        try:
            ensure_writable_dir(self.data_dir)
        except EmbeddedNatsError as exc:
            raise SupervisorError(str(exc)) from None
        self.plan_ports(free_ports)
        config_extra = ""
        if self.nats_auth:
            self.nats_passwords = {user: secrets.token_hex(24) for user in ALL_USERS}
            # with HTTP auth required there is no credential-less NATS user: it would defeat
            # the tokens; operator commands read the `local` password from the data dir
            no_auth_user = None if self.http_auth_required else LOCAL
            config_extra = render_authorization(self.nats_passwords, no_auth_user=no_auth_user)
        try:
            self.nats = EmbeddedNats(
                self.data_dir / "nats", port=self.nats_port, config_extra=config_extra
            ).start()
        except EmbeddedNatsError as exc:
            raise SupervisorError(str(exc)) from None
        if self.nats_auth:
            self._write_credentials()
        for name in SERVICES:
            self.services.append(self._spawn(name))
        self._wait_ready(ready_timeout)
        record_endpoints(self.data_dir, self.nats.url, self.urls())

    @property
    def http_auth_required(self) -> bool:
        value = self.extra_env.get("TRUENORTH_AUTH", os.environ.get("TRUENORTH_AUTH", "off"))
        return value.strip().lower() == "required"

    def _env(self, name: str) -> dict[str, str]:
        assert self.nats is not None
        env = dict(os.environ)
        env.update(self.extra_env)
        env["TRUENORTH_NATS_URL"] = self.nats.url
        for key in ("USER", "PASSWORD", "PROVISIONER_USER", "PROVISIONER_PASSWORD"):
            env.pop(f"TRUENORTH_NATS_{key}", None)
        if self.nats_passwords:
            env["TRUENORTH_NATS_USER"] = name
            env["TRUENORTH_NATS_PASSWORD"] = self.nats_passwords[name]
            env["TRUENORTH_NATS_PROVISIONER_USER"] = PROVISIONER
            env["TRUENORTH_NATS_PROVISIONER_PASSWORD"] = self.nats_passwords[PROVISIONER]
        env["TRUENORTH_DATA_DIR"] = str(self.data_dir)
        env[f"TRUENORTH_{name.upper()}_PORT"] = str(self.ports[name])
        env[f"TRUENORTH_{name.upper()}_HOST"] = "127.0.0.1"
        if self.database_url and name in {"metrics", "alignment"}:
            env[f"TRUENORTH_{name.upper()}_DATABASE_URL"] = self.database_url
        self._page_env(name, env)
        env["PYTHONUNBUFFERED"] = "1"
        # glibc gives each thread that allocates its own arena; the fold, commit and snapshot
        # threads' arenas were ~15 MB of alignment's RSS in the soak (benchmarks/README.md)
        env.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX)
        return env

    def _page_env(self, name: str, env: dict[str, str]) -> None:
        """The alignment page writes to the strategy service from the browser: it is told
        where that is, and the strategy service allows the page's origin (an operator's own
        settings win)."""
        if name == "alignment":
            env.setdefault(
                "TRUENORTH_ALIGNMENT_STRATEGY_URL", f"http://127.0.0.1:{self.ports['strategy']}"
            )
        if name == "strategy":
            page = self.ports["alignment"]
            env.setdefault(
                "TRUENORTH_STRATEGY_CORS_ORIGINS",
                f"http://127.0.0.1:{page},http://localhost:{page}",
            )

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "nats-credentials.json"

    def _write_credentials(self) -> None:
        """This run's NATS users and passwords, readable by the owner only (0600)."""
        assert self.nats is not None
        body = {"url": self.nats.url, "users": self.nats_passwords}
        write_private(self.credentials_path, json.dumps(body, indent=2) + "\n")

    def _spawn(self, name: str) -> ServiceProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "truenorth.serve", "serve", name],
            env=self._env(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        service = ServiceProcess(name, self.ports[name], process)
        service.pump = threading.Thread(target=self._pump, args=(service,), daemon=True)
        service.pump.start()
        return service

    def _pump(self, service: ServiceProcess) -> None:
        assert service.process.stdout is not None
        for raw in service.process.stdout:
            if self.echo:
                line = raw.decode(errors="replace").rstrip()
                sys.stdout.write(f"{service.name:>10} | {line}\n")
                sys.stdout.flush()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {s.name: s for s in self.services}
        while pending and time.monotonic() < deadline:
            for name, service in list(pending.items()):
                if service.process.poll() is not None:
                    self.stop()
                    raise SupervisorError(
                        f"the {name} service exited with code {service.process.returncode} at start"
                    )
                try:
                    if httpx.get(f"{service.url}/readyz", timeout=1).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            self.stop()
            raise SupervisorError(f"not ready after {timeout:g}s: {', '.join(pending)}")

    def urls(self) -> dict[str, str]:
        return {s.name: s.url for s in self.services}

    def crashed(self) -> list[str]:
        return [s.name for s in self.services if s.process.poll() is not None]

    def supervise(self, now: float | None = None) -> list[str]:
        """One round of supervision: restart what died (nats-server first). Returns what it
        did, one line each, for the log."""
        now = time.monotonic() if now is None else now
        said: list[str] = []
        if self.nats is not None and self.nats.process is not None:
            code = self.nats.process.poll()
            if code is not None:
                said.append(f"nats-server exited with code {code}: restarting it")
                try:
                    self.nats.start()
                    said.append(f"nats-server restarted on {self.nats.url}")
                except EmbeddedNatsError as exc:
                    said.append(f"nats-server did not restart: {exc}; retrying")
        for index, service in enumerate(self.services):
            code = service.process.poll()
            if code is None:
                continue
            if service.restart_at is None:
                stable = now - service.started_at >= STABLE_AFTER_SECONDS
                service.backoff = (
                    RESTART_BACKOFF_FIRST
                    if stable or not service.backoff
                    else min(RESTART_BACKOFF_MAX, service.backoff * 2)
                )
                service.restart_at = now + service.backoff
                said.append(
                    f"{service.name} exited with code {code}: restarting in "
                    f"{service.backoff:g}s (restart {service.restarts + 1})"
                )
            elif now >= service.restart_at:
                replacement = self._spawn(service.name)
                replacement.restarts = service.restarts + 1
                replacement.backoff = service.backoff
                replacement.started_at = now
                self.services[index] = replacement
                said.append(f"{service.name} restarted (pid {replacement.process.pid})")
        return said

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every service (each drains its broker), then the nats-server."""
        forget_endpoints(self.data_dir)
        for service in self.services:
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service in self.services:
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        for service in self.services:
            if service.pump is not None:
                service.pump.join(timeout=2)
        if self.nats is not None:
            self.nats.stop()
