"""CloudEvents on both doors, against the real nats-server: HTTP structured, batched and
binary; NATS intake structured and binary; valid events stored, invalid ones answered (or
dead-lettered) with per-field errors. Messages are built with the `cloudevents` SDK."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import orjson
import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from tests.integration.metrics.conftest import make_client
from truenorth.bus.streams import intake_subject
from truenorth.campaigns.app import build_app as build_campaigns
from truenorth.settings import CampaignsSettings, SharedSettings

OBSERVATION = "com.truenorth.metric.observation"
FORMAT = JSONFormat()


def observation_event(event_id: str, value: float = 3.0, **data: object) -> CloudEvent:
    return CloudEvent(
        {
            "id": event_id,
            "source": "crm-sync",
            "type": OBSERVATION,
            "datacontenttype": "application/json",
        },
        {
            "campaign_id": "spring",
            "metric": "leads",
            "value": value,
            "period_start": "2025-03-01T00:00:00Z",
            "period_end": "2025-03-02T00:00:00Z",
            **data,
        },
    )


def launch_event(event_id: str, campaign_id: str = "spring", **data: object) -> CloudEvent:
    return CloudEvent(
        {
            "id": event_id,
            "source": "planner",
            "type": "com.truenorth.campaign.launch",
            "time": datetime(2025, 2, 20, 9, tzinfo=UTC),
            "datacontenttype": "application/json",
        },
        {
            "campaign_id": campaign_id,
            "channel": "search",
            "segment": "smb",
            "budget": 1000,
            "start": "2025-03-01T00:00:00Z",
            "end": "2025-05-31T00:00:00Z",
            **data,
        },
    )


@pytest.fixture
def metrics(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[TestClient]:
    with make_client(nats_url, tmp_path, workspace) as client:
        yield client


@pytest.fixture
def campaigns(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path, workspace=workspace)
    with TestClient(build_campaigns(shared, CampaignsSettings())) as client:
        yield client


def publish(nats_url: str, subject: str, body: bytes, headers: dict[str, str]) -> None:
    async def main() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(subject, body, headers=headers)
        finally:
            await nc.close()

    asyncio.run(main())


# ------------------------------------------------------------------------------- HTTP, metrics


def test_http_structured_observation_uses_the_event_id_and_source(metrics, nats_url, workspace):
    message = ce_http.to_structured(observation_event("crm:spring:2025-03-01:leads"), FORMAT)
    answer = metrics.post(
        f"/v1/workspaces/{workspace}/metrics", content=message.body, headers=message.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    (event,) = Bus(nats_url).events(workspace, "metrics")
    assert event.data.observation_id == "crm:spring:2025-03-01:leads"
    assert event.data.source == "crm-sync"
    again = metrics.post(
        f"/v1/workspaces/{workspace}/metrics", content=message.body, headers=message.headers
    )
    assert again.json()["duplicates"] == 1


def test_http_binary_observation(metrics, nats_url, workspace):
    message = ce_http.to_binary(observation_event("bin-1", 7), FORMAT)
    assert "ce-id" in message.headers
    answer = metrics.post(
        f"/v1/workspaces/{workspace}/metrics", content=message.body, headers=message.headers
    )
    assert answer.status_code == 200, answer.text
    (event,) = Bus(nats_url).events(workspace, "metrics")
    assert (event.data.observation_id, event.data.value) == ("bin-1", 7)


def test_http_batch_answers_each_event_with_per_field_errors(metrics, nats_url, workspace):
    good = json.loads(FORMAT.write(observation_event("b-1")))
    bad_value = json.loads(FORMAT.write(observation_event("b-2", value="lots")))  # type: ignore[arg-type]
    no_id = {k: v for k, v in good.items() if k != "id"}
    wrong_type = {**good, "id": "b-4", "type": "com.example.other"}
    body = orjson.dumps([good, bad_value, no_id, wrong_type])
    answer = metrics.post(
        f"/v1/workspaces/{workspace}/metrics",
        content=body,
        headers={"content-type": "application/cloudevents-batch+json"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (1, 3)
    fields = {e["index"]: [f["field"] for f in e["errors"]] for e in result["errors"]}
    assert fields == {1: ["value"], 2: ["ce.id"], 3: ["ce.type"]}
    assert [e.data.observation_id for e in Bus(nats_url).events(workspace, "metrics")] == ["b-1"]


def test_http_binary_event_without_id_is_refused_naming_the_header(metrics, workspace):
    message = ce_http.to_binary(observation_event("x"), FORMAT)
    headers = {k: v for k, v in message.headers.items() if k != "ce-id"}
    answer = metrics.post(
        f"/v1/workspaces/{workspace}/metrics", content=message.body, headers=headers
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["errors"] == [{"field": "ce-id", "message": "required"}]


# ----------------------------------------------------------------------------- HTTP, campaigns


def test_http_structured_launch_takes_id_time_and_source(campaigns, nats_url, workspace):
    event_id = str(uuid.uuid4())
    message = ce_http.to_structured(launch_event(event_id), FORMAT)
    url = f"/v1/workspaces/{workspace}/campaigns/events"
    answer = campaigns.post(url, content=message.body, headers=message.headers)
    assert answer.status_code == 201, answer.text
    (launched,) = Bus(nats_url).events(workspace, "campaigns")
    assert str(launched.event_id) == event_id
    assert launched.occurred_at.isoformat() == "2025-02-20T09:00:00+00:00"
    assert launched.source == "planner"
    again = campaigns.post(url, content=message.body, headers=message.headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_http_binary_and_batched_commands(campaigns, nats_url, workspace):
    url = f"/v1/workspaces/{workspace}/campaigns/events"
    binary = ce_http.to_binary(launch_event("launch-spring"), FORMAT)
    assert campaigns.post(url, content=binary.body, headers=binary.headers).status_code == 201
    pause = CloudEvent(
        {
            "id": "pause-1",
            "source": "planner",
            "type": "com.truenorth.campaign.pause",
            "subject": "spring",
        },
        {"reason": "creative refresh"},
    )
    unknown = CloudEvent(
        {"id": "x-1", "source": "planner", "type": "com.truenorth.campaign.explode"}, {}
    )
    bad_budget = launch_event("launch-b", campaign_id="summer", budget=-5)
    batch = b"[" + b",".join(FORMAT.write(e) for e in (pause, unknown, bad_budget)) + b"]"
    answer = campaigns.post(
        url, content=batch, headers={"content-type": "application/cloudevents-batch+json"}
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [200, 422, 422]
    assert results[0]["campaign"]["status"] == "paused"
    assert results[1]["errors"][0]["field"] == "command"
    assert results[2]["errors"][0]["field"] == "budget"
    assert [e.type for e in Bus(nats_url).events(workspace, "campaigns")] == [
        "CampaignLaunched",
        "CampaignPaused",
    ]


def test_http_events_route_wants_cloudevents(campaigns, workspace):
    answer = campaigns.post(
        f"/v1/workspaces/{workspace}/campaigns/events", json={"command": "launch"}
    )
    assert answer.status_code == 415


# ------------------------------------------------------------------------------- NATS intake


def test_nats_structured_and_binary_observations_are_stored(metrics, nats_url, workspace):
    subject = intake_subject(workspace, "metrics")
    structured = ce_http.to_structured(observation_event("n-s", 1), FORMAT)
    binary = ce_http.to_binary(observation_event("n-b", 2), FORMAT)
    publish(nats_url, subject, structured.body, structured.headers)
    publish(nats_url, subject, binary.body, binary.headers)
    bus = Bus(nats_url)
    eventually(lambda: len(bus.events(workspace, "metrics")) == 2)
    assert sorted(e.data.observation_id for e in bus.events(workspace, "metrics")) == ["n-b", "n-s"]


def test_nats_invalid_event_is_dead_lettered_with_field_errors(metrics, nats_url, workspace):
    message = ce_http.to_binary(observation_event("n-bad", metric="Not A Kpi"), FORMAT)
    publish(nats_url, intake_subject(workspace, "metrics"), message.body, message.headers)
    bus = Bus(nats_url)
    (headers, data) = eventually(lambda: bus.dead_letters(workspace, "metrics"))[0]
    assert data == message.body
    assert orjson.loads(headers["Tn-Errors"])[0]["field"] == "metric"


def test_nats_campaign_commands_structured_and_binary(campaigns, nats_url, workspace):
    subject = intake_subject(workspace, "campaigns")
    structured = ce_http.to_structured(launch_event("nl-1", campaign_id="autumn"), FORMAT)
    publish(nats_url, subject, structured.body, structured.headers)
    pause = CloudEvent(
        {
            "id": "np-1",
            "source": "planner",
            "type": "com.truenorth.campaign.pause",
            "subject": "autumn",
        },
        {"reason": "budget review"},
    )
    binary = ce_http.to_binary(pause, FORMAT)
    publish(nats_url, subject, binary.body, binary.headers)
    bad = ce_http.to_binary(launch_event("nl-2", campaign_id="winter", segment=""), FORMAT)
    publish(nats_url, subject, bad.body, bad.headers)
    bus = Bus(nats_url)
    eventually(
        lambda: (
            [e.type for e in bus.events(workspace, "campaigns")]
            == ["CampaignLaunched", "CampaignPaused"]
        )
    )
    (headers, _) = eventually(lambda: bus.dead_letters(workspace, "campaigns"))[0]
    assert "segment" in [e["field"] for e in orjson.loads(headers["Tn-Errors"])]


# ------------------------------------------------------------------------------- bare dates


def test_a_cloudevent_observation_with_bare_period_dates_covers_the_whole_day(
    metrics, nats_url, workspace
):
    event = observation_event("day-1", period_start="2025-03-01", period_end="2025-03-01")
    message = ce_http.to_structured(event, FORMAT)
    answer = metrics.post(
        f"/v1/workspaces/{workspace}/metrics", content=message.body, headers=message.headers
    )
    assert answer.json()["accepted"] == 1, answer.text
    (stored,) = Bus(nats_url).events(workspace, "metrics")
    assert stored.data.period_end == datetime(2025, 3, 2, tzinfo=UTC)


def test_a_cloudevent_launch_with_bare_dates_and_one_with_a_zoned_date_naming_the_field(
    campaigns, nats_url, workspace
):
    message = ce_http.to_structured(
        launch_event("l-days", start="2025-03-01", end="2025-05-31"), FORMAT
    )
    answer = campaigns.post(
        f"/v1/workspaces/{workspace}/campaigns/events",
        content=message.body,
        headers=message.headers,
    )
    assert answer.status_code in (200, 201), answer.text
    (stored,) = Bus(nats_url).events(workspace, "campaigns")
    assert (stored.data.start, stored.data.end) == (
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 6, 1, tzinfo=UTC),
    )
    zoned = ce_http.to_structured(launch_event("l-zoned", "other", end="2025-05-31Z"), FORMAT)
    refused = campaigns.post(
        f"/v1/workspaces/{workspace}/campaigns/events", content=zoned.body, headers=zoned.headers
    )
    assert refused.status_code == 422, refused.text
    assert "end" in refused.text and "is not a date" in refused.text
