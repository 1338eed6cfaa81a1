"""The campaigns NATS door (valid commands applied, poison dead-lettered) and a property test:
malformed commands never cause a 5xx and never put an event on the bus."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.campaigns.support import Bus, eventually
from truenorth.bus.streams import intake_subject
from truenorth.campaigns.app import build_app
from truenorth.settings import CampaignsSettings, SharedSettings

LAUNCH = {
    "command": "launch",
    "campaign_id": "n1",
    "channel": "search",
    "segment": "smb",
    "budget": 100,
    "start": "2025-03-01T00:00:00Z",
    "end": "2025-04-01T00:00:00Z",
}


def test_nats_door_applies_commands_and_dead_letters_poison(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    subject = intake_subject(workspace, "campaigns")
    bus.publish(subject, orjson.dumps(LAUNCH))
    eventually(lambda: client.get(f"/v1/workspaces/{workspace}/campaigns/n1").status_code == 200)
    poison = {
        "malformed": b"{not json",
        "invalid": orjson.dumps({"command": "pause"}),  # no campaign_id
        "conflict": orjson.dumps({"command": "resume", "campaign_id": "n1"}),  # it is live
        "unknown_objective": orjson.dumps(
            {"command": "link_objective", "campaign_id": "n1", "objective_id": "ghost"}
        ),
        "not_found": orjson.dumps({"command": "pause", "campaign_id": "nobody"}),
    }
    for payload in poison.values():
        bus.publish(subject, payload)
    bus.publish(subject, orjson.dumps({"command": "fly", "campaign_id": "n1"}))
    bus.publish(subject, orjson.dumps({"command": "pause", "campaign_id": "n1"}))

    eventually(lambda: len(bus.dead_letters(workspace, "campaigns")) == 6)
    eventually(
        lambda: client.get(f"/v1/workspaces/{workspace}/campaigns/n1").json()["status"] == "paused"
    )
    letters = bus.dead_letters(workspace, "campaigns")
    by_reason: dict[str, list[tuple[dict[str, str], bytes]]] = {}
    for headers, data in letters:
        by_reason.setdefault(headers["Tn-Reason"], []).append((headers, data))
    for reason, payload in poison.items():
        headers, data = by_reason[reason][0]
        assert payload in [d for _, d in by_reason[reason]]
        assert headers["Tn-Original-Subject"] == subject
        assert int(headers["Tn-Attempts"]) >= 1
        assert headers["Tn-Service"] == "campaigns"
        assert headers["Tn-Error"]
    assert len(by_reason["invalid"]) == 2
    assert [e.type for e in bus.events(workspace, "campaigns")] == [
        "CampaignLaunched",
        "CampaignPaused",
    ]
    exposition = client.get("/metrics").text
    assert 'truenorth_intake_rejected_total{reason="conflict",service="campaigns"} 1.0' in (
        exposition
    )


# ------------------------------------------------------------------------------- properties

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.text(max_size=3), max_size=3),
    st.sampled_from(
        ["", "a.b", "x" * 300, "2025-02-30T00:00:00Z", "2025-03-01T00:00:00", "-1", "1e999"]
    ),
)
ENDPOINTS = [
    "",
    "/c1/pause",
    "/c1/resume",
    "/c1/end",
    "/c1/activate",
    "/c1/budget",
    "/c1/objectives",
    "/c1/creatives",
    "/c1/creatives/v1/retire",
    "/c1/experiments",
]
FIELDS = [
    "campaign_id",
    "channel",
    "segment",
    "budget",
    "start",
    "end",
    "objective_ids",
    "status",
    "objective_id",
    "creative_id",
    "winner_creative_id",
    "event_id",
    "occurred_at",
    "reason",
    "lift_pct",
    "experiment_id",
]


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, Any]:
    endpoint = draw(st.sampled_from(ENDPOINTS))
    body: dict[str, Any] = {k: v for k, v in LAUNCH.items() if k != "command"}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        body[field] = draw(junk)
    if draw(st.booleans()):
        return endpoint, draw(junk)
    return endpoint, body


@pytest.fixture(scope="module")
def shared_client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path_factory.mktemp("cprop"))
    with TestClient(build_app(shared, CampaignsSettings())) as test_client:
        yield test_client


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=commands())
def test_malformed_commands_never_5xx_and_never_reach_the_bus(
    shared_client: TestClient, nats_url: str, command: tuple[str, Any]
) -> None:
    workspace = "cprop-" + uuid.uuid4().hex[:10]
    endpoint, body = command
    answer = shared_client.post(
        f"/v1/workspaces/{workspace}/campaigns{endpoint}",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code < 500, answer.text
    events = Bus(nats_url).events(workspace, "campaigns")
    if answer.status_code >= 400:
        assert events == []
        assert "detail" in answer.json()
    else:
        assert len(events) == 1  # only a valid launch can succeed on an empty workspace
        assert events[0].type == "CampaignLaunched"


def test_commands_over_nats_are_validated_like_http(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    subject = intake_subject(workspace, "campaigns")
    bad = {**LAUNCH, "budget": -1}
    bus.publish(subject, orjson.dumps(bad))
    over_http = client.post(
        f"/v1/workspaces/{workspace}/campaigns",
        json={k: v for k, v in bad.items() if k != "command"},
    )
    assert over_http.status_code == 422
    eventually(lambda: len(bus.dead_letters(workspace, "campaigns")) == 1)
    headers, _ = bus.dead_letters(workspace, "campaigns")[0]
    http_fields = {e["field"] for e in over_http.json()["errors"]}
    nats_fields = {e["field"] for e in orjson.loads(headers["Tn-Errors"])}
    assert http_fields == nats_fields == {"budget"}
    time.sleep(0.2)
    assert bus.events(workspace, "campaigns") == []
