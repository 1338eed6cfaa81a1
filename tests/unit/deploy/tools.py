"""Locating the external checkers (promtool, amtool, nats-server) for the deploy tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import in_ci

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"


def require_tool(name: str) -> str:
    """The tool's path; skip when it is missing — but fail in CI, where it must be installed."""
    found = shutil.which(name) or _venv_binary(name)
    if found:
        return found
    message = f"{name} is not installed: run scripts/install-tools.sh"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the tool is required here)")
    pytest.skip(message)
    raise AssertionError("unreachable")


def _venv_binary(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    """Run a checker; fail the test with its output when it exits non-zero."""
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{output}")
    return output
