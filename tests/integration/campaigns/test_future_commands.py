"""Time sanity at the campaigns doors: a command dated in the future is refused."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from truenorth.bus.streams import intake_subject

LAUNCH = {
    "campaign_id": "c-future",
    "name": "Future",
    "channel": "search",
    "segment": "smb",
    "budget": 100,
    "start": "2025-03-01T00:00:00Z",
    "end": "2025-04-01T00:00:00Z",
}


def test_a_launch_dated_2099_is_422_naming_occurred_at_and_appends_nothing(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    answer = client.post(
        f"/v1/workspaces/{workspace}/campaigns",
        json={**LAUNCH, "occurred_at": "2099-01-01T00:00:00Z"},
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["occurred_at"]
    assert bus.events(workspace, "campaigns") == []


def test_a_launch_planned_for_the_future_but_recorded_now_is_fine(
    client: TestClient, workspace: str
) -> None:
    planned = {**LAUNCH, "start": "2099-01-01T00:00:00Z", "end": "2099-02-01T00:00:00Z"}
    answer = client.post(f"/v1/workspaces/{workspace}/campaigns", json=planned)
    assert answer.status_code in (200, 201), answer.text


def test_over_nats_a_future_dated_command_goes_to_the_dead_letter_queue(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    subject = intake_subject(workspace, "campaigns")
    command = {"command": "launch", **LAUNCH, "occurred_at": "2099-01-01T00:00:00Z"}
    bus.publish(subject, orjson.dumps(command))
    eventually(lambda: len(bus.dead_letters(workspace, "campaigns")) == 1)
    ((headers, _),) = bus.dead_letters(workspace, "campaigns")
    assert headers["Tn-Reason"] == "future_date"
    assert orjson.loads(headers["Tn-Errors"])[0]["field"] == "occurred_at"
    assert bus.events(workspace, "campaigns") == []
