"""The campaigns service against the real nats-server: objective links checked against the
STRATEGY stream, the state machine's 409s, idempotent retries and concurrent writes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus
from truenorth.campaigns.domain import Campaign
from truenorth.client import CampaignsClient, Conflict, InvalidRequest, NotFound

LAUNCH = {
    "channel": "linkedin",
    "segment": "cfo-midmarket",
    "budget": 5000,
    "start": "2025-03-01T00:00:00Z",
    "end": "2025-05-31T00:00:00Z",
    "owner": "dana",
    "name": "Spring webinar push",
}


def launch(client: TestClient, workspace: str, campaign_id: str, **fields: Any) -> Any:
    return client.post(
        f"/v1/workspaces/{workspace}/campaigns",
        json={"campaign_id": campaign_id, **LAUNCH, **fields},
    )


def url(workspace: str, campaign_id: str, suffix: str = "") -> str:
    return f"/v1/workspaces/{workspace}/campaigns/{campaign_id}{suffix}"


def test_launch_without_objectives_is_untethered(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    answer = launch(client, workspace, "c1")
    assert answer.status_code == 201
    assert answer.json()["untethered"] is True
    assert answer.json()["campaign"]["status"] == "live"
    [event] = bus.events(workspace, "campaigns")
    assert event.type == "CampaignLaunched"
    assert event.data.untethered is True


def test_links_are_checked_against_the_strategy_stream(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    unknown = launch(client, workspace, "c1", objective_ids=["grow-pipeline"])
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "objective_ids[0]"
    assert "grow-pipeline" in unknown.json()["detail"]
    # added after the service started: found by the catch-up before answering "unknown"
    bus.add_objective(workspace, "grow-pipeline")
    bus.add_objective(workspace, "old-goal")
    bus.retire_objective(workspace, "old-goal")
    answer = launch(client, workspace, "c1", objective_ids=["grow-pipeline"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["untethered"] is False
    retired = client.post(url(workspace, "c1", "/objectives"), json={"objective_id": "old-goal"})
    assert retired.status_code == 422
    assert "old-goal" in retired.json()["detail"] and "retired" in retired.json()["detail"]
    unlinked = client.delete(url(workspace, "c1", "/objectives/grow-pipeline"))
    assert unlinked.status_code == 200
    assert unlinked.json()["untethered"] is True
    events = bus.events(workspace, "campaigns")
    assert [e.type for e in events] == ["CampaignLaunched", "ObjectiveUnlinked"]
    assert events[1].data.untethered is True
    # an objective in another workspace does not count
    other = launch(client, workspace + "x", "c9", objective_ids=["grow-pipeline"])
    assert other.status_code == 422


def test_state_machine_conflicts(client: TestClient, bus: Bus, workspace: str) -> None:
    assert launch(client, workspace, "c1", status="planned").status_code == 201
    assert client.post(url(workspace, "c1", "/pause")).status_code == 409  # not live yet
    assert client.post(url(workspace, "c1", "/resume")).status_code == 409
    assert client.post(url(workspace, "c1", "/activate")).status_code == 200
    assert client.post(url(workspace, "c1", "/activate")).status_code == 409
    assert client.post(url(workspace, "c1", "/pause"), json={"reason": "q"}).status_code == 200
    assert client.post(url(workspace, "c1", "/pause")).status_code == 409
    assert client.post(url(workspace, "c1", "/resume")).status_code == 200
    assert client.post(url(workspace, "c1", "/budget"), json={"budget": 7000}).status_code == 200
    assert client.post(url(workspace, "c1", "/budget"), json={"budget": 7000}).status_code == 409
    creative = {"creative_id": "v1", "variant": "A", "message": "Close faster"}
    assert client.post(url(workspace, "c1", "/creatives"), json=creative).status_code == 200
    assert client.post(url(workspace, "c1", "/creatives"), json=creative).status_code == 409
    assert (
        client.post(url(workspace, "c1", "/creatives"), json={"creative_id": "v2"}).status_code
        == 200
    )
    assert client.post(url(workspace, "c1", "/creatives/v2/retire")).status_code == 200
    assert client.post(url(workspace, "c1", "/creatives/v2/retire")).status_code == 409
    assert client.post(url(workspace, "c1", "/creatives/v9/retire")).status_code == 422
    assert client.post(url(workspace, "c1", "/end")).status_code == 200
    resumed = client.post(url(workspace, "c1", "/resume"))
    assert resumed.status_code == 409
    assert "ended" in resumed.json()["detail"]
    assert client.post(url(workspace, "c1", "/end")).status_code == 409
    assert client.post(url(workspace, "c1", "/budget"), json={"budget": 1}).status_code == 409
    experiment = {
        "experiment_id": "e1",
        "winner_creative_id": "v1",
        "loser_creative_ids": ["v2"],
        "lift_pct": 12.5,
    }
    assert client.post(url(workspace, "c1", "/experiments"), json=experiment).status_code == 200
    assert client.post(url(workspace, "c1", "/experiments"), json=experiment).status_code == 409
    state = client.get(url(workspace, "c1")).json()
    assert state["status"] == "ended"
    assert state["budget"] == 7000
    assert {c["creative_id"]: c["status"] for c in state["creatives"]} == {
        "v1": "active",
        "v2": "retired",
    }
    assert state["experiments"][0]["winner_creative_id"] == "v1"
    assert launch(client, workspace, "c1").status_code == 409  # exists
    assert client.post(url(workspace, "nope", "/pause")).status_code == 404
    assert client.get(url(workspace, "nope")).status_code == 404
    types = [e.type for e in bus.events(workspace, "campaigns")]
    assert types == [
        "CampaignLaunched",
        "CampaignActivated",
        "CampaignPaused",
        "CampaignResumed",
        "CampaignBudgetChanged",
        "CreativeLaunched",
        "CreativeLaunched",
        "CreativeRetired",
        "CampaignEnded",
        "ExperimentConcluded",
    ]


def test_retry_with_the_same_event_id_is_a_duplicate(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    launch(client, workspace, "c1")
    body = {"event_id": "01952f0e-0000-7000-8000-000000000001", "reason": "budget review"}
    first = client.post(url(workspace, "c1", "/pause"), json=body)
    again = client.post(url(workspace, "c1", "/pause"), json=body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert len(bus.events(workspace, "campaigns")) == 2


def test_concurrent_change_is_409(
    client: TestClient, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch(client, workspace, "c1")
    service = client.app.state.runtime.state["service"]  # type: ignore[attr-defined]
    real_load = service.load

    async def stale_load(ws: str, campaign_id: str) -> Campaign | None:
        state = await real_load(ws, campaign_id)
        assert state is not None
        state.version -= 1  # as if another writer appended since we read
        return state

    monkeypatch.setattr(service, "load", stale_load)
    answer = client.post(url(workspace, "c1", "/pause"))
    assert answer.status_code == 409
    assert "concurrent" in answer.json()["detail"]


def test_invalid_commands_are_422_with_fields(client: TestClient, workspace: str) -> None:
    answer = launch(client, workspace, "c1", budget=-5, end="2025-01-01T00:00:00Z")
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert "budget" in fields
    bad_ws = client.post("/v1/workspaces/bad.ws/campaigns", json={"campaign_id": "c", **LAUNCH})
    assert bad_ws.status_code == 422


def test_campaigns_client(client: TestClient, bus: Bus, workspace: str) -> None:
    bus.add_objective(workspace, "o1")
    campaigns = CampaignsClient(http=client, workspace=workspace)
    launched = campaigns.launch("c1", objective_ids=["o1"], **{k: v for k, v in LAUNCH.items()})
    assert launched["untethered"] is False
    campaigns.pause("c1")
    with pytest.raises(Conflict):
        campaigns.pause("c1")
    with pytest.raises(NotFound):
        campaigns.get("nope")
    with pytest.raises(InvalidRequest) as caught:
        campaigns.link_objective("c1", "missing")
    assert caught.value.errors[0]["field"] == "objective_id"
    campaigns.launch_creative("c1", "v1", variant="A")
    campaigns.conclude_experiment("c1", "e1", "v1")
    assert campaigns.get("c1")["status"] == "paused"
