"""Locating the external checkers (promtool, amtool, nats-server) for the deploy tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_installed

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"


def require_tool(name: str) -> str:
    """The tool's path (skipped when missing, failed in CI: `require_installed`)."""
    found = shutil.which(name) or _venv_binary(name)
    require_installed(found is not None, name, "scripts/install-tools.sh")
    assert found is not None
    return found


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
