"""`truenorth validate` and `truenorth apply` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[3] / "examples" / "b2b-tech-c-level.yaml"


def truenorth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_validate_passes_the_examples() -> None:
    examples = sorted(str(p) for p in EXAMPLE.parent.glob("*.yaml"))
    result = truenorth("validate", *examples)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok") == len(examples)


def test_validate_reports_every_error_with_path_and_line(tmp_path: Path) -> None:
    broken = (
        EXAMPLE.read_text()
        .replace("target: ", "target: -", 1)
        .replace("budget: 400000", "budget: lots", 1)
    )
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    result = truenorth("validate", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 2, result.stderr
    assert any("periods[0].budget" in line for line in lines), result.stderr
    assert all(line.startswith(f"{path}:") for line in lines)
    assert all(line.split(":")[1].isdigit() for line in lines), result.stderr


def test_apply_prints_a_plan_and_twice_appends_nothing(nats_url: str, workspace: str) -> None:
    env = {"TRUENORTH_NATS_URL": nats_url, "TRUENORTH_WORKSPACE": workspace}
    dry = truenorth("apply", str(EXAMPLE), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "+ objective" in dry.stdout
    first = truenorth("apply", str(EXAMPLE), "--reason", "Q4 plan", env=env)
    assert first.returncode == 0, first.stderr
    assert "Applied:" in first.stdout
    second = truenorth("apply", str(EXAMPLE), env=env)
    assert second.returncode == 0, second.stderr
    assert "No changes" in second.stdout
    assert "Applied:" not in second.stdout


def test_apply_in_response_to_a_made_up_drift_is_refused_and_appends_nothing(
    nats_url: str, workspace: str
) -> None:
    env = {"TRUENORTH_NATS_URL": nats_url, "TRUENORTH_WORKSPACE": workspace}
    result = truenorth("apply", str(EXAMPLE), "--in-response-to", "made-up", env=env)
    assert result.returncode == 1
    assert "--in-response-to: no drift or incident 'made-up'" in result.stderr
    dry = truenorth("apply", str(EXAMPLE), "--dry-run", env=env)
    assert "+ strategy" in dry.stdout  # still nothing defined


def test_apply_warns_before_reverting_an_api_change_and_strict_refuses(
    nats_url: str, workspace: str, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from truenorth.settings import SharedSettings, StrategySettings
    from truenorth.strategy.app import build_app

    env = {"TRUENORTH_NATS_URL": nats_url, "TRUENORTH_WORKSPACE": workspace}
    assert truenorth("apply", str(EXAMPLE), env=env).returncode == 0
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    with TestClient(build_app(shared, StrategySettings(port=0))) as client:
        response = client.patch(
            f"/v1/workspaces/{workspace}/strategies/northwind-cloud/objectives/pipeline-q4",
            json={"target": 5000000, "reason": "board cut the target"},
            headers={"X-Actor": "sam"},
        )
        assert response.status_code == 200, response.text
        version = response.json()["version"]

        strict = truenorth("apply", str(EXAMPLE), "--strict", env=env)
        assert strict.returncode == 1
        assert "pipeline-q4: target was set to 5,000,000 through the API by sam" in strict.stderr
        assert "applying sets it to 6,000,000" in strict.stderr
        assert "--strict" in strict.stderr
        current = client.get(f"/v1/workspaces/{workspace}/strategies/northwind-cloud")
        assert current.json()["version"] == version  # nothing appended

        loose = truenorth("apply", str(EXAMPLE), env=env)
        assert loose.returncode == 0, loose.stderr
        assert "warning:" in loose.stderr and "through the API by sam" in loose.stderr
        assert "Applied:" in loose.stdout
        again = truenorth("apply", str(EXAMPLE), "--strict", env=env)
        assert again.returncode == 0, again.stderr  # the file is the latest word again
