"""`truenorth up` refuses bad conditions in one line and a non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from truenorth.bus.embedded import free_port


def run_up(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "truenorth.cli", "up", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_up_with_a_port_in_use_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_up("--data-dir", str(tmp_path), env={"TRUENORTH_METRICS_PORT": str(port)})
    assert result.returncode != 0
    message = result.stderr.strip()
    assert f"port {port}" in message
    assert "metrics" in message
    assert len(message.splitlines()) == 1


def test_up_with_an_unwritable_data_dir_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_up("--data-dir", str(blocker / "data"), "--free-ports")
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "not writable" in message
    assert len(message.splitlines()) == 1


def test_up_with_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    result = run_up("--data-dir", str(tmp_path), env={"TRUENORTH_ALIGNMENT_PORT": "seventy"})
    assert result.returncode != 0
    assert "TRUENORTH_ALIGNMENT_PORT" in result.stderr
