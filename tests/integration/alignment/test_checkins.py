"""Check-ins end to end against a real nats-server: written through the strategy API, folded
by the alignment service, shown on the objective (as of any moment) and as gauges, and kept by
a fresh replay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.alignment.test_service import assert_stored_equals_a_fresh_replay, metric
from truenorth.alignment.app import build_app as build_alignment_app
from truenorth.settings import AlignmentSettings, SharedSettings, StrategySettings
from truenorth.strategy.app import build_app as build_strategy_app

TODAY = datetime.now(UTC).date()
CONFIDENCE = "truenorth_objective_checkin_confidence"
CORRECTED = "truenorth_objective_checkin_corrected_value"


@pytest.fixture
def alignment(nats_url: str, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    settings = AlignmentSettings(database_url=database_url, tick_seconds=0.2, port=0)
    with TestClient(build_alignment_app(shared, settings)) as client:
        yield client


@pytest.fixture
def strategy(nats_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path / "strategy")
    with TestClient(build_strategy_app(shared, StrategySettings(port=0))) as client:
        yield client


def define(strategy: TestClient, workspace: str) -> str:
    base = f"/v1/workspaces/{workspace}/strategies/acme"
    assert strategy.put(base, json={"name": "Acme"}).status_code == 201
    objective = {
        "objective_id": "leads",
        "name": "Leads",
        "kpi": "leads",
        "target": 1000,
        "start": (TODAY - timedelta(days=30)).isoformat(),
        "deadline": (TODAY + timedelta(days=60)).isoformat(),
    }
    response = strategy.post(f"{base}/objectives", json=objective)
    assert response.status_code == 201, response.text
    return f"{base}/objectives/leads/checkins"


def objective_when(
    alignment: TestClient, workspace: str, ready: Any, timeout: float = 15, **params: str
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = alignment.get(f"/v1/workspaces/{workspace}/objectives/leads", params=params)
        if response.status_code == 200:
            body = response.json()
            if ready(body):
                return body
        time.sleep(0.1)
    raise AssertionError(f"the objective never got there: {body}")


def test_a_check_in_posted_to_strategy_shows_on_the_alignment_objective_and_as_gauges(
    alignment: TestClient, strategy: TestClient, workspace: str
) -> None:
    url = define(strategy, workspace)
    objective_when(alignment, workspace, lambda body: body["checkin"] is None)
    before = datetime.now(UTC)
    time.sleep(0.05)
    response = strategy.post(
        url,
        json={
            "confidence": "medium",
            "narrative": "Two webinars moved to next month; CRM is ahead of the ad platforms",
            "corrected_value": 420,
            "source": "Salesforce pipeline report",
        },
        headers={"X-Actor": "maria"},
    )
    assert response.status_code == 201, response.text
    body = objective_when(alignment, workspace, lambda body: body["checkin"] is not None)
    checkin = body["checkin"]
    assert checkin["confidence"] == "medium"
    assert checkin["corrected_value"] == 420
    assert checkin["source"] == "Salesforce pipeline report"
    assert checkin["actor"] == "maria"
    assert checkin["narrative"].startswith("Two webinars")
    assert [c["confidence"] for c in body["checkins"]] == ["medium"]
    assert body["actual"] == 0  # a belief, not a fact: the data's figure is unchanged

    [listed] = alignment.get(f"/v1/workspaces/{workspace}/objectives").json()["objectives"]
    assert listed["checkin"] == checkin
    assert "checkins" not in listed

    earlier = alignment.get(
        f"/v1/workspaces/{workspace}/objectives/leads", params={"as_of": before.isoformat()}
    ).json()
    assert earlier["checkin"] is None and earlier["checkins"] == []

    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline:
        text = alignment.get("/metrics").text
        if metric(text, CONFIDENCE, workspace) is not None:
            break
        time.sleep(0.1)
    assert metric(text, CONFIDENCE, workspace) == 1.0
    assert metric(text, CORRECTED, workspace) == 420


def test_the_newest_check_in_wins_and_all_are_listed_newest_first(
    alignment: TestClient, strategy: TestClient, workspace: str
) -> None:
    url = define(strategy, workspace)
    for confidence in ("low", "high"):
        body = {"confidence": confidence, "narrative": f"feeling {confidence}"}
        assert strategy.post(url, json=body).status_code == 201
    body = objective_when(alignment, workspace, lambda body: len(body["checkins"]) == 2)
    assert body["checkin"]["confidence"] == "high"
    assert [c["confidence"] for c in body["checkins"]] == ["high", "low"]
    assert body["checkin"]["corrected_value"] is None


def test_the_stored_check_ins_equal_a_fresh_replay(
    alignment: TestClient,
    strategy: TestClient,
    nats_url: str,
    database_url: str,
    workspace: str,
) -> None:
    url = define(strategy, workspace)
    body = {"confidence": "low", "narrative": "late start", "corrected_value": 3, "source": "x"}
    assert strategy.post(url, json=body).status_code == 201
    objective_when(alignment, workspace, lambda body: body["checkin"] is not None)

    assert_stored_equals_a_fresh_replay(nats_url, database_url)
