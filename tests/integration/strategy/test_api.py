"""The strategy service over HTTP against a real nats-server: concurrency, history, apply,
the feedback inbox."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.samples import DRIFT
from truenorth.bus.eventstore import EventStore, connect
from truenorth.contract.alignment import DriftDetected, DriftResolved
from truenorth.settings import SharedSettings, StrategySettings
from truenorth.strategy.app import build_app

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))
OBJECTIVE = {
    "objective_id": "leads-q4",
    "name": "Leads Q4",
    "kpi": "leads",
    "target": 1000,
    "start": "2026-10-01",
    "deadline": "2026-12-31",
}


@pytest.fixture
def client(nats_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    with TestClient(build_app(shared, StrategySettings(port=0))) as test_client:
        yield test_client


def base(workspace: str) -> str:
    return f"/v1/workspaces/{workspace}/strategies/acme"


def define(client: TestClient, workspace: str) -> str:
    response = client.put(
        base(workspace),
        json={"name": "Acme", "target_segments": ["smb"], "allowed_channels": ["search", "social"]},
    )
    assert response.status_code == 201, response.text
    response = client.post(f"{base(workspace)}/objectives", json=OBJECTIVE)
    assert response.status_code == 201, response.text
    return str(response.headers["ETag"])


def stream_messages(nats_url: str, workspace: str) -> int:
    async def count() -> int:
        nc = await connect(nats_url)
        store = EventStore(nc.jetstream())
        events, _ = await store.read_aggregate(workspace, "strategy", "acme")
        await nc.drain()
        return len(events)

    return asyncio.run(count())


def test_reads_return_the_version_as_etag(client: TestClient, workspace: str) -> None:
    etag = define(client, workspace)
    response = client.get(base(workspace))
    assert response.status_code == 200
    assert response.headers["ETag"] == etag == '"2"'
    assert response.json()["objectives"][0]["objective_id"] == "leads-q4"


def test_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    before = stream_messages(nats_url, workspace)
    response = client.patch(
        f"{base(workspace)}/objectives/leads-q4",
        json={"target": 1200},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 412
    assert stream_messages(nats_url, workspace) == before


def test_two_concurrent_writers_exactly_one_wins(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    etag = define(client, workspace)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def revise(target: int) -> None:
        barrier.wait()
        response = client.patch(
            f"{base(workspace)}/objectives/leads-q4",
            json={"target": target, "reason": "race"},
            headers={"If-Match": etag},
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=revise, args=(t,)) for t in (1100, 1200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) in ([200, 409], [200, 412])
    assert stream_messages(nats_url, workspace) == 3


def test_history_tells_who_changed_the_target_when_and_why(
    client: TestClient, workspace: str
) -> None:
    define(client, workspace)
    for target, who in ((1200, "maria"), (1500, "li")):
        response = client.patch(
            f"{base(workspace)}/objectives/leads-q4",
            json={"target": target, "reason": f"raised by {who}"},
            headers={"X-Actor": who},
        )
        assert response.status_code == 200, response.text
    history = client.get(f"{base(workspace)}/objectives/leads-q4/history").json()["history"]
    assert [h["event_type"] for h in history] == [
        "ObjectiveAdded",
        "ObjectiveRevised",
        "ObjectiveRevised",
    ]
    last = history[-1]
    assert last["actor"] == "li"
    assert last["reason"] == "raised by li"
    assert last["changes"] == [{"field": "target", "old": 1200.0, "new": 1500.0}]


def test_retired_objective_cannot_be_revised(client: TestClient, workspace: str) -> None:
    define(client, workspace)
    assert client.post(f"{base(workspace)}/objectives/leads-q4/retire", json={}).status_code == 200
    response = client.patch(f"{base(workspace)}/objectives/leads-q4", json={"target": 5})
    assert response.status_code == 409
    assert "retired" in response.json()["detail"]


def test_channel_mix_must_sum_to_100_and_name_allowed_channels(
    client: TestClient, workspace: str
) -> None:
    define(client, workspace)
    response = client.put(
        f"{base(workspace)}/periods/q4",
        json={
            "start": "2026-10-01",
            "end": "2026-12-31",
            "budget": 1000,
            "channel_mix": {"search": 50, "tiktok": 40},
        },
    )
    assert response.status_code == 422
    assert "channel_mix" in response.text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_applies_and_applying_twice_appends_nothing(
    client: TestClient, workspace: str, example: Path
) -> None:
    text = example.read_text()
    strategy_id = next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("id:")
    )
    url = f"/v1/workspaces/{workspace}/strategies/{strategy_id}/apply"
    headers = {"Content-Type": "application/yaml"}
    dry = client.post(url, params={"dry_run": True}, content=text, headers=headers)
    assert dry.status_code == 200, dry.text
    assert dry.json()["appended"] == 0
    first = client.post(url, content=text, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["appended"] > 0
    second = client.post(url, content=text, headers=headers)
    assert second.json()["appended"] == 0
    assert "No changes" in second.json()["plan"]


def test_apply_reports_document_errors_with_paths_and_lines(
    client: TestClient, workspace: str
) -> None:
    text = EXAMPLES[0].read_text().replace("deadline: 2026-12-31", "deadline: 2026-01-01", 1)
    strategy_id = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("id:"))  # noqa: E741
    response = client.post(
        f"/v1/workspaces/{workspace}/strategies/{strategy_id}/apply",
        content=text,
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(e["field"].endswith(".deadline") and e.get("line") for e in errors), errors


def test_feedback_inbox_shows_a_drift_published_on_the_bus_and_acknowledges_it(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)
    drift = DRIFT.model_copy(
        update={"drift_id": "drift-1", "strategy_id": "acme", "objective_id": "leads-q4"}
    )

    async def publish(event_cls: type) -> None:
        nc = await connect(nats_url)
        await EventStore(nc.jetstream()).append(
            event_cls(workspace=workspace, aggregate_id="drift-1", data=drift)
        )
        await nc.drain()

    asyncio.run(publish(DriftDetected))
    deadline = time.monotonic() + 10
    open_drifts: list[dict[str, object]] = []
    while time.monotonic() < deadline and not open_drifts:
        objective = client.get(base(workspace)).json()["objectives"][0]
        open_drifts = objective["open_drifts"]
        time.sleep(0.1)
    assert open_drifts and open_drifts[0]["drift_id"] == "drift-1"
    response = client.post(
        f"{base(workspace)}/drifts/drift-1/acknowledge",
        json={"note": "moving budget to search"},
        headers={"X-Actor": "maria"},
    )
    assert response.status_code == 200, response.text
    inbox = client.get(f"{base(workspace)}/drifts").json()["drifts"]
    assert inbox[0]["acknowledged"]["note"] == "moving budget to search"
    revision = client.patch(
        f"{base(workspace)}/objectives/leads-q4",
        json={"target": 800, "reason": "re-planned", "in_response_to": "drift-1"},
    )
    assert revision.status_code == 200
    inbox = client.get(f"{base(workspace)}/drifts").json()["drifts"]
    assert inbox[0]["responses"][0]["event_type"] == "ObjectiveRevised"
    asyncio.run(publish(DriftResolved))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if client.get(f"{base(workspace)}/drifts").json()["drifts"] == []:
            break
        time.sleep(0.1)
    assert client.get(f"{base(workspace)}/drifts").json()["drifts"] == []
    resolved = client.get(f"{base(workspace)}/drifts", params={"status": "resolved"}).json()
    assert resolved["drifts"][0]["drift_id"] == "drift-1"


def test_malformed_bodies_name_the_field(client: TestClient, workspace: str) -> None:
    define(client, workspace)
    response = client.post(
        f"{base(workspace)}/objectives", json={**OBJECTIVE, "objective_id": "x", "targett": 5}
    )
    assert response.status_code == 422
    assert "targett" in response.text
