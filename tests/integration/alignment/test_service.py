"""The alignment service against a real nats-server and SQLite/PostgreSQL: live folding,
/metrics, the read API with as_of, drift publication, digest equal to a fresh replay."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from truenorth.alignment.app import build_app
from truenorth.alignment.replay import digest as stored_digest
from truenorth.alignment.replay import replay_digest
from truenorth.bus.eventstore import EventStore, connect, provision
from truenorth.contract.campaigns import CampaignLaunched, CampaignLaunchedData
from truenorth.contract.common import ObjectiveSpec
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import (
    MetricObserved,
    MetricRestated,
    MetricRestatedData,
    Observation,
)
from truenorth.contract.strategy import (
    ObjectiveAdded,
    ObjectiveRevised,
    ObjectiveRevisedData,
    ObjectiveSetData,
    StrategyDefined,
    StrategyDefinedData,
)
from truenorth.settings import AlignmentSettings, SharedSettings
from truenorth.store.db import make_engine

NOW = datetime.now(UTC)
START = NOW - timedelta(days=50)
DEADLINE = NOW + timedelta(days=50)


def objective(target: float = 1000) -> ObjectiveSpec:
    return ObjectiveSpec(
        objective_id="leads",
        name="Leads",
        kpi="leads",
        target=target,
        start=START,
        deadline=DEADLINE,
    )


def observation(ws: str, oid: str, value: float, metric: str = "leads") -> Observation:
    day = NOW - timedelta(days=2)
    return Observation(
        observation_id=oid,
        campaign_id="c-1",
        metric=metric,
        value=value,
        period_start=day,
        period_end=day + timedelta(hours=1),
        source="test",
    )


def scenario(ws: str) -> list[EnvelopeFields]:
    return [
        StrategyDefined(
            workspace=ws,
            aggregate_id="acme",
            data=StrategyDefinedData(
                name="Acme", target_segments=("smb",), allowed_channels=("search",)
            ),
        ),
        ObjectiveAdded(
            workspace=ws, aggregate_id="acme", data=ObjectiveSetData(objective=objective())
        ),
        CampaignLaunched(
            workspace=ws,
            aggregate_id="c-1",
            data=CampaignLaunchedData(
                campaign_id="c-1",
                objective_ids=("leads",),
                channel="search",
                segment="smb",
                budget=10_000,
                start=START,
                end=DEADLINE,
            ),
        ),
        MetricObserved(workspace=ws, aggregate_id="c-1", data=observation(ws, "o-1", 100)),
        MetricObserved(workspace=ws, aggregate_id="c-1", data=observation(ws, "o-2", 100)),
    ]


async def append_all(nats_url: str, events: list[EnvelopeFields]) -> None:
    nc = await connect(nats_url)
    store = EventStore(nc.jetstream())
    await provision(nc.jetstream())
    for event in events:
        await store.append(event)
    await nc.drain()


@pytest.fixture
def alignment(nats_url: str, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    settings = AlignmentSettings(database_url=database_url, tick_seconds=0.2, port=0)
    with TestClient(build_app(shared, settings)) as client:
        yield client


def metric(text: str, name: str, ws: str) -> float | None:
    match = re.search(rf'^{name}\{{[^}}]*workspace="{ws}"[^}}]*\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


def wait_for(
    client: TestClient, name: str, ws: str, value: float, timeout: float = 15
) -> float | None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = metric(client.get("/metrics").text, name, ws)
        if seen is not None and abs(seen - value) < 1e-9:
            return seen
        time.sleep(0.1)
    return seen


def test_progress_reaches_metrics_and_restatement_counts_latest_once(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    asyncio.run(append_all(nats_url, scenario(workspace)))
    assert wait_for(alignment, "truenorth_objective_actual", workspace, 200) == 200
    assert wait_for(alignment, "truenorth_objective_progress_ratio", workspace, 0.2) == 0.2
    original = observation(workspace, "o-1", 100)
    restated = MetricRestated(
        workspace=workspace,
        aggregate_id="c-1",
        data=MetricRestatedData(**{**original.model_dump(), "value": 150}, previous_value=100),
    )
    duplicate = MetricObserved(
        workspace=workspace, aggregate_id="c-1", data=observation(workspace, "o-2", 100)
    )
    asyncio.run(append_all(nats_url, [restated, duplicate]))
    assert wait_for(alignment, "truenorth_objective_actual", workspace, 250) == 250
    body = alignment.get(f"/v1/workspaces/{workspace}/objectives").json()
    [leads] = body["objectives"]
    assert leads["objective_id"] == "leads"
    assert leads["actual"] == 250
    assert leads["campaigns"][0]["campaign_id"] == "c-1"


def test_as_of_before_and_after_a_target_revision(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    asyncio.run(append_all(nats_url, scenario(workspace)))
    time.sleep(0.05)
    before_revision = datetime.now(UTC)
    time.sleep(0.05)
    revised = ObjectiveRevised(
        workspace=workspace,
        aggregate_id="acme",
        data=ObjectiveRevisedData(objective=objective(2000), changed_fields=("target",)),
    )
    asyncio.run(append_all(nats_url, [revised]))
    assert wait_for(alignment, "truenorth_objective_target", workspace, 2000) == 2000
    old = alignment.get(
        f"/v1/workspaces/{workspace}/objectives/leads",
        params={"as_of": before_revision.isoformat()},
    )
    assert old.status_code == 200, old.text
    assert old.json()["target"] == 1000
    new = alignment.get(f"/v1/workspaces/{workspace}/objectives/leads")
    assert new.json()["target"] == 2000


def test_off_pace_objective_opens_a_drift_on_the_bus(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    asyncio.run(append_all(nats_url, scenario(workspace)))
    deadline = time.monotonic() + 15
    drifts: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        drifts = alignment.get(f"/v1/workspaces/{workspace}/drifts").json()["drifts"]
        if any(d["kind"] == "objective_off_pace" for d in drifts):
            break
        time.sleep(0.2)
    off_pace = [d for d in drifts if d["kind"] == "objective_off_pace"]
    assert off_pace, drifts
    assert "Leads" in str(off_pace[0]["explanation"])
    gauge = re.compile(
        rf'truenorth_drift_open\{{[^}}]*kind="objective_off_pace"[^}}]*workspace="{workspace}"|'
        rf'truenorth_drift_open\{{[^}}]*workspace="{workspace}"[^}}]*kind="objective_off_pace"'
    )
    # the exposition follows the drift table within one snapshot build
    deadline = time.monotonic() + 10
    while not gauge.search(alignment.get("/metrics").text) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gauge.search(alignment.get("/metrics").text)


def off_pace_drifts(client: TestClient, workspace: str, **params: str) -> list[dict[str, object]]:
    params = {"kind": "objective_off_pace", **params}
    response = client.get(f"/v1/workspaces/{workspace}/drifts", params=params)
    assert response.status_code == 200, response.text
    drifts: list[dict[str, object]] = response.json()["drifts"]
    return drifts


def wait_for_drifts(
    client: TestClient, workspace: str, count: int, **params: str
) -> list[dict[str, object]]:
    deadline = time.monotonic() + 15
    drifts = off_pace_drifts(client, workspace, **params)
    while len(drifts) != count and time.monotonic() < deadline:
        time.sleep(0.2)
        drifts = off_pace_drifts(client, workspace, **params)
    return drifts


def test_drift_list_filters_by_status_kind_objective_workspace_and_as_of(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    before = datetime.now(UTC)
    asyncio.run(append_all(nats_url, scenario(workspace)))
    [opened] = wait_for_drifts(alignment, workspace, 1)
    assert opened["status"] == "open" and opened["objective_id"] == "leads"
    assert datetime.fromisoformat(str(opened["since"])) >= before
    assert off_pace_drifts(alignment, workspace, objective="leads") == [opened]
    assert off_pace_drifts(alignment, workspace, objective="other") == []
    assert off_pace_drifts(alignment, workspace, kind="campaign_idle", status="all") == []
    assert off_pace_drifts(alignment, f"{workspace}-other", status="all") == []
    assert off_pace_drifts(alignment, workspace, status="resolved") == []
    reachable = ObjectiveRevised(
        workspace=workspace,
        aggregate_id="acme",
        data=ObjectiveRevisedData(objective=objective(250), changed_fields=("target",)),
    )
    asyncio.run(append_all(nats_url, [reachable]))
    [resolved] = wait_for_drifts(alignment, workspace, 1, status="resolved")
    assert resolved["drift_id"] == opened["drift_id"]
    assert off_pace_drifts(alignment, workspace) == []
    assert off_pace_drifts(alignment, workspace, status="all") == [resolved]
    assert off_pace_drifts(alignment, workspace, status="all", as_of=before.isoformat()) == []
    # as of now, from the ALIGNMENT stream: once published, the same as the live list
    deadline = time.monotonic() + 15
    published: list[dict[str, object]] = []
    while not published and time.monotonic() < deadline:
        now = datetime.now(UTC).isoformat()
        published = off_pace_drifts(alignment, workspace, status="resolved", as_of=now)
    assert [d["drift_id"] for d in published] == [opened["drift_id"]]


def test_drift_is_evaluated_soon_after_events_not_only_on_the_clock_tick(
    nats_url: str, database_url: str, tmp_path: Path, workspace: str
) -> None:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    settings = AlignmentSettings(database_url=database_url, tick_seconds=3600, port=0)
    with TestClient(build_app(shared, settings)) as client:
        time.sleep(1.0)  # the first tick has run: the next one is an hour away
        asyncio.run(append_all(nats_url, scenario(workspace)))
        deadline = time.monotonic() + 15
        kinds: set[str] = set()
        while time.monotonic() < deadline and "objective_off_pace" not in kinds:
            drifts = client.get(f"/v1/workspaces/{workspace}/drifts").json()["drifts"]
            kinds = {d["kind"] for d in drifts}
            time.sleep(0.2)
        assert "objective_off_pace" in kinds


def test_stored_projection_equals_a_fresh_replay(
    alignment: TestClient, nats_url: str, database_url: str, workspace: str
) -> None:
    asyncio.run(append_all(nats_url, scenario(workspace)))
    assert wait_for(alignment, "truenorth_objective_actual", workspace, 200) == 200

    assert_stored_equals_a_fresh_replay(nats_url, database_url)


def test_readiness_reports_consumers(alignment: TestClient) -> None:
    body = alignment.get("/readyz").json()
    assert body["checks"]["consumers"]["ok"] is True
    assert body["checks"]["nats"]["ok"] is True


def assert_stored_equals_a_fresh_replay(nats_url: str, database_url: str) -> None:
    """The stored projection's digest equals a fresh replay's; the shared server holds other
    tests' workspaces too, so it waits (15 s at most) until the service has caught up."""

    async def replayed() -> str:
        nc = await connect(nats_url)
        try:
            return await replay_digest(nc.jetstream())
        finally:
            await nc.drain()

    deadline = time.monotonic() + 15
    stored = fresh = ""
    while time.monotonic() < deadline:
        fresh = asyncio.run(replayed())
        stored = stored_digest(make_engine(database_url))
        if stored == fresh:
            break
        time.sleep(0.2)
    assert stored == fresh
