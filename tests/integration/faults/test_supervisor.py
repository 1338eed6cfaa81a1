"""`truenorth up` supervises (issue 17, findings 13 and 3): kill -9 of a service or of the
nats-server is repaired without a hand, the other services keep running, `/readyz` says when
NATS is lost, and with HTTP auth required no NATS connection without credentials is accepted
while operator commands still work from the data dir's credentials."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import nats
import nats.errors
import pytest

from tests.e2e.harness import RunningSystem, start_system

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def pid_of(system: RunningSystem, needle: str) -> int:
    for pid in children(system.process.pid):
        if needle in command_of(pid):
            return pid
    raise AssertionError(f"no child running {needle!r}")


def ready(url: str) -> tuple[int, dict[str, object]]:
    try:
        response = httpx.get(f"{url}/readyz", timeout=2)
        return response.status_code, response.json()
    except (httpx.HTTPError, ValueError):
        return 0, {}


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout:g}s: {what}")


def test_up_restarts_a_killed_service_and_a_killed_nats_server(tmp_path: Path) -> None:
    system = start_system(tmp_path, env={"TRUENORTH_AUTH": "required"})
    try:
        # no credential-less NATS user while HTTP auth is required
        async def anonymous() -> None:
            nc = await nats.connect(
                system.nats_url, allow_reconnect=False, max_reconnect_attempts=0
            )
            await nc.close()

        with pytest.raises((nats.errors.Error, OSError)):
            asyncio.run(anonymous())
        # an operator command finds the operator's credentials in the data dir
        dlq = subprocess.run(
            [sys.executable, "-m", "truenorth.cli", "dlq", "list", "--json"],
            env={
                **os.environ,
                "TRUENORTH_DATA_DIR": str(tmp_path),
                "TRUENORTH_NATS_URL": system.nats_url,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert dlq.returncode == 0, dlq.stderr
        assert json.loads((tmp_path / "nats-credentials.json").read_text())["users"]["local"]

        metrics = pid_of(system, "serve metrics")
        os.kill(metrics, signal.SIGKILL)
        wait_for(
            lambda: any("metrics restarted" in line for line in system.output),
            30,
            "metrics restarted",
        )
        wait_for(lambda: ready(system.urls["metrics"])[0] == 200, 60, "metrics ready again")
        assert ready(system.urls["alignment"])[0] == 200  # the others never stopped
        assert system.process.poll() is None

        os.kill(pid_of(system, "nats-server"), signal.SIGKILL)
        lost: list[dict[str, object]] = []

        def saw_nats_lost() -> bool:
            status, body = ready(system.urls["campaigns"])
            if status == 503:
                lost.append(body)
            return bool(lost)

        wait_for(saw_nats_lost, 20, "readyz reporting the lost NATS connection")
        assert lost[0]["checks"]["nats"]["ok"] is False  # type: ignore[index]
        wait_for(
            lambda: any("nats-server restarted" in line for line in system.output),
            30,
            "nats-server restarted",
        )
        for name, url in system.urls.items():
            wait_for(lambda url=url: ready(url)[0] == 200, 60, f"{name} ready after the restart")
        assert system.process.poll() is None
    finally:
        code = system.stop()
    assert code == 0, "".join(system.output[-30:])
