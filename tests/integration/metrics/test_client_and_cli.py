"""truenorth.client and `truenorth emit metrics` against the real service (in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.integration.campaigns.support import Bus
from tests.integration.metrics.conftest import row
from truenorth.client import MetricsClient, RejectedRows
from truenorth.metrics import cli


def test_client_batches_and_reports_totals(client: TestClient, bus: Bus, workspace: str) -> None:
    seen: list[int] = []
    metrics = MetricsClient(http=client, workspace=workspace, batch_size=7)
    rows = [row(f"c{i}", float(i)) for i in range(20)]
    summary = metrics.send(rows, on_batch=lambda batch, total: seen.append(total.rows))
    assert (summary.accepted, summary.batches) == (20, 3)
    assert seen == [7, 14, 20]
    again = metrics.send(rows)
    assert again.duplicates == 20
    assert len(bus.events(workspace, "metrics")) == 20


def test_client_raises_rejected_rows_with_global_indices(
    client: TestClient, workspace: str
) -> None:
    metrics = MetricsClient(http=client, workspace=workspace, batch_size=2)
    rows: list[dict[str, Any]] = [row("a"), row("b"), row("c"), {**row("d"), "value": "x"}]
    with pytest.raises(RejectedRows) as caught:
        metrics.send(rows)
    assert caught.value.summary.accepted == 3
    assert [e["index"] for e in caught.value.errors] == [3]


def test_client_derives_observation_ids(client: TestClient, bus: Bus, workspace: str) -> None:
    metrics = MetricsClient(http=client, workspace=workspace)
    first = {k: v for k, v in row("ignored", 4).items() if k != "observation_id"}
    assert metrics.send([first]).accepted == 1
    assert metrics.send([{**first, "value": 5}]).restated == 1


def test_emit_metrics_csv(
    client: TestClient, bus: Bus, workspace: str, tmp_path: Path, emit_through_client: None
) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(
        "observation_id,campaign_id,metric,value,period_start,period_end,source\n"
        "e1,spring,leads,3,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,crm\n"
        "e2,spring,leads,lots,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,crm\n"
        "e3,spring,leads,4,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,crm\n"
    )
    result = CliRunner().invoke(
        cli.emit_app, ["metrics", str(path), "--workspace", workspace, "--batch-size", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "line 3" in result.output
    assert "value" in result.output
    assert sorted(e.data.observation_id for e in bus.events(workspace, "metrics")) == ["e1", "e3"]


def test_emit_metrics_ndjson_rerun_is_all_duplicates(
    client: TestClient, bus: Bus, workspace: str, tmp_path: Path, emit_through_client: None
) -> None:
    import orjson

    path = tmp_path / "obs.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(row(f"j{i}")) for i in range(5)) + b"\n")
    runner = CliRunner()
    first = runner.invoke(cli.emit_app, ["metrics", str(path), "--workspace", workspace])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli.emit_app, ["metrics", str(path), "--workspace", workspace])
    assert second.exit_code == 0, second.output
    assert len(bus.events(workspace, "metrics")) == 5
