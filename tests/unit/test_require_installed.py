"""`require_installed`: an outside tool's absence skips a test on a developer machine and
fails it in CI, never silently passes."""

from __future__ import annotations

import pytest

from tests.conftest import require_installed


def test_an_installed_tool_lets_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require_installed(True, "promtool", "scripts/install-tools.sh")


def test_a_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="promtool is not installed"):
        require_installed(False, "promtool", "scripts/install-tools.sh")


def test_a_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: it is required here"):
        require_installed(False, "promtool", "scripts/install-tools.sh")
