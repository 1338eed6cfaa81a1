"""`truenorth checkin` as an owner runs it, against the strategy and alignment services served
over real HTTP (uvicorn) on a real nats-server."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from truenorth.alignment.app import build_app as build_alignment_app
from truenorth.bus.embedded import free_port
from truenorth.checkin_cli import register
from truenorth.operator_cli import objectives_command
from truenorth.settings import AlignmentSettings, SharedSettings, StrategySettings
from truenorth.strategy.app import build_app as build_strategy_app

app = typer.Typer()
register(app)
app.command("objectives")(objectives_command)


@app.callback()
def _root() -> None:
    """Keeps `checkin` a subcommand, as under `truenorth`."""


TODAY = datetime.now(UTC).date()


@contextmanager
def served(application: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def services(nats_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    alignment = build_alignment_app(
        shared,
        AlignmentSettings(database_url=f"sqlite:///{tmp_path}/al.db", tick_seconds=0.2, port=0),
    )
    with (
        served(build_strategy_app(shared, StrategySettings(port=0))) as strategy_url,
        served(alignment) as alignment_url,
    ):
        yield strategy_url, alignment_url


def define(strategy_url: str, workspace: str) -> None:
    base = f"{strategy_url}/v1/workspaces/{workspace}/strategies/acme"
    assert httpx.put(base, json={"name": "Acme"}).status_code == 201
    objective = {
        "objective_id": "leads",
        "name": "Leads",
        "kpi": "leads",
        "target": 1000,
        "start": (TODAY - timedelta(days=30)).isoformat(),
        "deadline": (TODAY + timedelta(days=60)).isoformat(),
    }
    assert httpx.post(f"{base}/objectives", json=objective).status_code == 201


def checkin(*args: str) -> Any:
    return CliRunner().invoke(app, ["checkin", *args], catch_exceptions=False)


def checkins(strategy_url: str, workspace: str) -> list[dict[str, Any]]:
    url = f"{strategy_url}/v1/workspaces/{workspace}/strategies/acme/objectives/leads/checkins"
    body: list[dict[str, Any]] = httpx.get(url).json()["checkins"]
    return body


def test_an_owner_checks_in_with_a_corrected_figure(
    services: tuple[str, str], workspace: str
) -> None:
    strategy_url, _ = services
    define(strategy_url, workspace)
    result = checkin(
        "leads",
        "--strategy", "acme",
        "--confidence", "medium",
        "--note", "Two webinars moved to December",
        "--value", "420",
        "--source", "Salesforce pipeline report",
        "--workspace", workspace,
        "--actor", "maria",
        "--strategy-url", strategy_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "checked in on leads in strategy acme: medium, corrected to 420" in result.output
    [recorded] = checkins(strategy_url, workspace)
    assert recorded["actor"] == "maria"
    assert (recorded["confidence"], recorded["corrected_value"]) == ("medium", 420)
    assert recorded["narrative"] == "Two webinars moved to December"


def test_without_strategy_the_objectives_strategy_is_found_through_alignment(
    services: tuple[str, str], workspace: str
) -> None:
    strategy_url, alignment_url = services
    define(strategy_url, workspace)
    urls = ["--strategy-url", strategy_url, "--alignment-url", alignment_url]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # alignment folds the objective in the background
        found = httpx.get(f"{alignment_url}/v1/workspaces/{workspace}/objectives/leads")
        if found.status_code == 200:
            break
        time.sleep(0.1)
    result = checkin("leads", "--confidence", "high", "--note", "on track", "--workspace",
                     workspace, *urls)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "in strategy acme: high" in result.output
    assert [c["confidence"] for c in checkins(strategy_url, workspace)] == ["high"]
    deadline = time.monotonic() + 15
    table = ""
    while time.monotonic() < deadline and "high (" not in table:
        table = (
            CliRunner()
            .invoke(app, ["objectives", "--workspace", workspace, "--url", alignment_url])
            .output
        )
        time.sleep(0.1)
    assert "owner's check-in" in table, table
    assert re.search(r"high \(\d{4}-\d{2}-\d{2}\)", table), table
    unknown = checkin("nope", "--confidence", "high", "--note", "x", "--workspace", workspace,
                      *urls)  # fmt: skip
    assert unknown.exit_code == 2
    assert "no objective 'nope'" in unknown.output


def test_bad_options_are_refused_naming_the_option_and_nothing_is_recorded(
    services: tuple[str, str], workspace: str
) -> None:
    strategy_url, _ = services
    define(strategy_url, workspace)
    common = ["--strategy", "acme", "--workspace", workspace, "--strategy-url", strategy_url]
    cases = [
        (["--confidence", "sure", "--note", "x"], "--confidence"),
        (["--confidence", "low", "--note", "  "], "--note"),
        (["--confidence", "low", "--note", "x", "--value", "3"], "--source"),
        (["--confidence", "low", "--note", "x" * 4001], "--note"),
        (["--confidence", "low", "--note", "x", "--value", "1e16", "--source", "s"], "--value"),
    ]
    for options, named in cases:
        result = checkin("leads", *options, *common)
        assert result.exit_code == 2, (options, result.output)
        assert named in result.output, (options, result.output)
    assert checkins(strategy_url, workspace) == []


def test_a_retired_objective_is_refused_by_the_service(
    services: tuple[str, str], workspace: str
) -> None:
    strategy_url, _ = services
    define(strategy_url, workspace)
    retire = f"{strategy_url}/v1/workspaces/{workspace}/strategies/acme/objectives/leads/retire"
    assert httpx.post(retire).status_code == 200
    result = checkin("leads", "--strategy", "acme", "--confidence", "low", "--note", "x",
                     "--workspace", workspace, "--strategy-url", strategy_url)  # fmt: skip
    assert result.exit_code == 2
    assert "404" in result.output and "retired" in result.output
