"""The feedback loop keeps its integrity (issue 16.7), through the strategy service against a
real nats-server: nothing answers or acknowledges a drift that never existed, acknowledgements
accumulate, and drifts with one cause are one incident."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.strategy.test_api import base, define, stream_messages
from tests.samples import DRIFT
from truenorth.bus.eventstore import EventStore, connect
from truenorth.contract.alignment import DriftData, DriftDetected
from truenorth.settings import SharedSettings, StrategySettings
from truenorth.strategy.app import build_app

INCIDENT = "campaign-search-brand"


@pytest.fixture
def client(nats_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    with TestClient(build_app(shared, StrategySettings(port=0))) as test_client:
        yield test_client


def drift(drift_id: str, **more: Any) -> DriftData:
    values = {"drift_id": drift_id, "strategy_id": "acme", "objective_id": "leads-q4", **more}
    return DRIFT.model_copy(update=values)


def publish(nats_url: str, workspace: str, *drifts: DriftData) -> None:
    async def run() -> None:
        nc = await connect(nats_url)
        store = EventStore(nc.jetstream())
        for data in drifts:
            await store.append(
                DriftDetected(workspace=workspace, aggregate_id=data.drift_id, data=data)
            )
        await nc.drain()

    asyncio.run(run())


def wait_for(client: TestClient, path: str, key: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = client.get(path).json()[key]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return found


def test_acknowledging_a_drift_that_does_not_exist_is_404_and_appends_nothing(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    before = stream_messages(nats_url, workspace)
    response = client.post(f"{base(workspace)}/drifts/made-up/acknowledge", json={"note": "x"})
    assert response.status_code == 404, response.text
    assert "made-up" in response.json()["detail"]
    assert stream_messages(nats_url, workspace) == before


def test_a_drift_of_another_workspace_cannot_be_acknowledged_here(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    publish(nats_url, f"{workspace}-other", drift("elsewhere"))
    response = client.post(f"{base(workspace)}/drifts/elsewhere/acknowledge", json={"note": "x"})
    assert response.status_code == 404, response.text


def test_a_revision_in_response_to_a_made_up_drift_is_422_naming_the_field(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    before = stream_messages(nats_url, workspace)
    response = client.patch(
        f"{base(workspace)}/objectives/leads-q4",
        json={"target": 800, "in_response_to": "made-up"},
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["in_response_to"]
    applied = client.post(
        f"{base(workspace)}/apply",
        params={"in_response_to": "made-up"},
        content="id: acme\nname: Acme\n",
        headers={"content-type": "application/yaml"},
    )
    assert applied.status_code == 422, applied.text
    assert stream_messages(nats_url, workspace) == before


def test_a_drift_just_published_can_be_acknowledged_before_the_inbox_saw_it(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    publish(nats_url, workspace, drift("fresh"))
    response = client.post(f"{base(workspace)}/drifts/fresh/acknowledge", json={"note": "seen"})
    assert response.status_code == 200, response.text


def test_acknowledgements_accumulate_and_a_second_never_replaces_the_first(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    publish(nats_url, workspace, drift("drift-1"))
    wait_for(client, f"{base(workspace)}/drifts", "drifts", 1)
    for who, note in (("maria", "seen"), ("sam", "pausing the campaign")):
        response = client.post(
            f"{base(workspace)}/drifts/drift-1/acknowledge",
            json={"note": note},
            headers={"X-Actor": who},
        )
        assert response.status_code == 200, response.text
    (shown,) = client.get(f"{base(workspace)}/drifts").json()["drifts"]
    assert [(a["by"], a["note"]) for a in shown["acknowledgements"]] == [
        ("maria", "seen"),
        ("sam", "pausing the campaign"),
    ]


def test_one_overspending_campaign_is_one_incident_acknowledged_as_a_whole(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    cause = {"campaign": "search-brand"}
    publish(
        nats_url,
        workspace,
        drift(
            "overrun-search-brand",
            kind="budget_overrun",
            severity="warning",
            incident_id=INCIDENT,
            cause=cause,
        ),
        drift(
            "mix-search",
            kind="channel_mix_drift",
            severity="critical",
            channel="search",
            incident_id=INCIDENT,
            cause=cause,
        ),
    )
    wait_for(client, f"{base(workspace)}/drifts", "drifts", 2)
    (incident,) = client.get(f"{base(workspace)}/incidents").json()["incidents"]
    assert incident["incident_id"] == INCIDENT
    assert incident["subject"] == "campaign search-brand"
    assert incident["severity"] == "critical"
    assert {f["drift_id"] for f in incident["facets"]} == {"overrun-search-brand", "mix-search"}
    response = client.post(
        f"{base(workspace)}/drifts/{INCIDENT}/acknowledge", json={"note": "pausing it"}
    )
    assert response.status_code == 200, response.text
    revision = client.patch(
        f"{base(workspace)}/objectives/leads-q4",
        json={"target": 900, "reason": "budget moved", "in_response_to": INCIDENT},
    )
    assert revision.status_code == 200, revision.text
    (incident,) = client.get(f"{base(workspace)}/incidents").json()["incidents"]
    assert incident["acknowledged"]["note"] == "pausing it"
    assert [r["reason"] for r in incident["responses"]] == ["budget moved"]
    drifts = client.get(f"{base(workspace)}/drifts").json()["drifts"]
    assert all(d["acknowledged"]["note"] == "pausing it" for d in drifts)


def test_a_strategy_change_cannot_be_dated_by_the_caller(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    """Time sanity: the service dates strategy changes itself, so none is future-dated."""
    define(client, workspace)
    before = stream_messages(nats_url, workspace)
    response = client.patch(
        f"{base(workspace)}/objectives/leads-q4",
        json={"target": 800, "occurred_at": "2099-01-01T00:00:00Z"},
    )
    assert response.status_code == 422, response.text
    assert "occurred_at" in response.text
    assert stream_messages(nats_url, workspace) == before


def test_a_strict_apply_over_http_refuses_to_overwrite_an_api_change(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    document = (
        "id: acme\nname: Acme\nobjectives:\n"
        "  - {id: leads-q4, name: Leads, kpi: leads, target: 1000,"
        " start: 2026-10-01, deadline: 2026-12-31}\n"
    )
    yaml = {"content-type": "application/yaml"}
    first = client.post(f"{base(workspace)}/apply", content=document, headers=yaml)
    assert first.status_code == 200, first.text
    revised = client.patch(f"{base(workspace)}/objectives/leads-q4", json={"target": 700})
    assert revised.status_code == 200, revised.text
    before = stream_messages(nats_url, workspace)
    strict = client.post(
        f"{base(workspace)}/apply", params={"strict": "true"}, content=document, headers=yaml
    )
    assert strict.status_code == 409, strict.text
    assert "target was set to 700 through the API" in strict.text
    assert stream_messages(nats_url, workspace) == before
    loose = client.post(f"{base(workspace)}/apply", content=document, headers=yaml)
    assert loose.status_code == 200
    assert len(loose.json()["overwrites"]) == 1
