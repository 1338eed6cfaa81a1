"""README's operator flow as a new user runs it, each command a subprocess: `truenorth up`,
then `apply`, `emit metrics`, `objectives`, `campaigns`, `drifts`, `ack`, found through the
data dir alone; and a stopped system is one line, not a wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import RunningSystem, start_system

REPO = Path(__file__).parents[2]
STRATEGY = REPO / "examples" / "b2b-tech-c-level.yaml"


def truenorth(*args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    return subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "COLUMNS": "200"},
        cwd=data_dir.parent,
    )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSystem, Path]]:
    data_dir = tmp_path_factory.mktemp("operator") / "data"
    running = start_system(data_dir)
    try:
        yield running, data_dir
    finally:
        assert running.stop() == 0, "".join(running.output[-30:])


def test_up_prints_the_nats_url_and_an_export_line_and_records_them(system) -> None:
    running, data_dir = system
    printed = "".join(running.output)
    assert f"export TRUENORTH_NATS_URL={running.nats_url} TRUENORTH_DATA_DIR={data_dir}" in printed
    recorded = json.loads((data_dir / "endpoints.json").read_text())
    assert recorded["nats"] == running.nats_url
    assert recorded["metrics"] == running.urls["metrics"]


def test_readme_flow_up_apply_emit_objectives(system, tmp_path: Path) -> None:
    running, data_dir = system
    applied = truenorth("apply", str(STRATEGY), data_dir=data_dir)
    assert applied.returncode == 0, applied.stderr
    assert "Applied:" in applied.stdout
    again = truenorth("apply", str(STRATEGY), data_dir=data_dir)
    assert "Applied" not in again.stdout, "the same file twice appends nothing"

    launched = httpx.post(
        f"{running.urls['campaigns']}/v1/workspaces/default/campaigns",
        json={
            "campaign_id": "cio-roundtable",
            "objective_ids": ["pipeline-q4"],
            "channel": "linkedin",
            "segment": "cio",
            "budget": 20000,
            "start": "2026-10-01T00:00:00Z",
            "end": "2026-12-31T00:00:00Z",
        },
    )
    assert launched.status_code == 201, launched.text
    export = tmp_path / "export.csv"
    export.write_text(
        "campaign_id;metric;value;period_start;period_end;source;account\n"
        "cio-roundtable;pipeline_value;125000;2026-10-05T00:00:00Z;2026-10-06T00:00:00Z;crm;a1\n"
        "\n"
        "cio-roundtable;pipeline_value;75000;2026-10-06T00:00:00Z;2026-10-07T00:00:00Z;crm;a1\n"
    )
    emitted = truenorth("emit", "metrics", str(export), data_dir=data_dir)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    assert "ignoring column(s) account" in emitted.stderr

    def pipeline() -> dict:
        shown = truenorth("objectives", "--json", data_dir=data_dir)
        assert shown.returncode == 0, shown.stderr
        return next(
            o for o in json.loads(shown.stdout)["objectives"] if o["objective_id"] == "pipeline-q4"
        )

    deadline = time.monotonic() + 30
    while pipeline()["actual"] != 200000 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pipeline()["actual"] == 200000
    table = truenorth("objectives", data_dir=data_dir)
    assert "pipeline-q4" in table.stdout and "200,000.00" in table.stdout

    checked = truenorth(
        "checkin", "pipeline-q4", "--confidence", "medium", "--note", "Two deals slip to January",
        "--value", "260000", "--source", "CRM forecast", data_dir=data_dir,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "checked in on pipeline-q4 in strategy northwind-cloud: medium" in checked.stdout
    deadline = time.monotonic() + 30
    while pipeline()["checkin"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pipeline()["checkin"]["corrected_value"] == 260000
    assert pipeline()["actual"] == 200000, "a check-in is shown beside the data, never in it"


def test_lists_drifts_and_acknowledges_one(system) -> None:
    running, data_dir = system
    if truenorth("apply", str(STRATEGY), data_dir=data_dir).returncode != 0:
        pytest.fail("apply failed")
    campaigns = truenorth("campaigns", "--json", data_dir=data_dir)
    assert campaigns.returncode == 0, campaigns.stderr
    assert all("campaign_id" in c for c in json.loads(campaigns.stdout)["campaigns"])
    strategies = httpx.get(f"{running.urls['strategy']}/v1/workspaces/default/strategies").json()
    assert [s["strategy_id"] for s in strategies["strategies"]] == ["northwind-cloud"]

    deadline = time.monotonic() + 30
    drifts: list[dict] = []
    while not drifts and time.monotonic() < deadline:
        drifts = json.loads(truenorth("drifts", "--open", "--json", data_dir=data_dir).stdout)[
            "drifts"
        ]
        time.sleep(0.5)
    assert drifts, "the example strategy has idle objectives"
    drift = drifts[0]["drift_id"]
    acked = truenorth("ack", drift, "--note", "planning in progress", data_dir=data_dir)
    assert acked.returncode == 0, acked.stderr
    assert f"acknowledged {drift} in strategy northwind-cloud" in acked.stdout
    inbox = httpx.get(
        f"{running.urls['strategy']}/v1/workspaces/default/strategies/northwind-cloud"
    ).json()
    assert drift in json.dumps(inbox)
    unknown = truenorth("ack", "no-such-drift", "--note", "x", data_dir=data_dir)
    assert unknown.returncode == 2
    assert "no drift 'no-such-drift'" in unknown.stderr


def test_without_a_running_system_a_command_fails_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "nothing-here"
    data_dir.mkdir()
    (data_dir / "endpoints.json").write_text(
        json.dumps({"nats": "nats://127.0.0.1:9", "alignment": "http://127.0.0.1:9"})
    )
    for command in (
        ["apply", str(STRATEGY)],
        ["review", "--period", "2026-Q4"],
        ["digest", "--replay"],
        ["rebuild"],
        ["dlq", "list"],
    ):
        failed = truenorth(*command, data_dir=data_dir)
        assert failed.returncode == 2, (command, failed.stderr)
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1, (command, failed.stderr)
        assert lines[0].count("cannot reach NATS at nats://127.0.0.1:9") == 1, lines
    shown = truenorth("objectives", data_dir=data_dir)
    assert shown.returncode == 2
    assert "cannot reach the alignment service" in shown.stderr
