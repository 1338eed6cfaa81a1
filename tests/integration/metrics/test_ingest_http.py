"""POST /v1/metrics against the real nats-server: exactly-once storage, restatements,
per-row answers, limits, and the DLQ for rejected rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus
from tests.integration.metrics.conftest import make_client, row
from truenorth.contract.metrics import MetricObserved, MetricRestated


def observation_ids(bus: Bus, workspace: str) -> list[str]:
    return [e.data.observation_id for e in bus.events(workspace, "metrics")]


def test_same_batch_posted_three_times_is_stored_once(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    batch = [row(f"o{i}", float(i)) for i in range(20)]
    answers = [client.post(f"/v1/workspaces/{workspace}/metrics", json=batch) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == {
        "accepted": 20,
        "duplicates": 0,
        "restated": 0,
        "rejected": 0,
        "errors": [],
        "unknown_campaigns": ["spring"],
    }
    for again in answers[1:]:
        assert again.json()["duplicates"] == 20
        assert again.json()["accepted"] == 0
    events = bus.events(workspace, "metrics")
    assert len(events) == 20
    assert sorted(e.data.observation_id for e in events) == sorted(f"o{i}" for i in range(20))
    assert all(isinstance(e, MetricObserved) for e in events)


def test_default_workspace_route(client: TestClient, bus: Bus, workspace: str) -> None:
    answer = client.post("/v1/metrics", json=[row("d1")])
    assert answer.status_code == 200
    assert observation_ids(bus, workspace) == ["d1"]


def test_a_restatement_replaces_the_value(client: TestClient, bus: Bus, workspace: str) -> None:
    url = f"/v1/workspaces/{workspace}/metrics"
    assert client.post(url, json=[row("r1", 10)]).json()["accepted"] == 1
    restated = client.post(url, json=[row("r1", 12)]).json()
    assert (restated["accepted"], restated["restated"], restated["duplicates"]) == (0, 1, 0)
    assert client.post(url, json=[row("r1", 12)]).json()["duplicates"] == 1
    # back to the first value is a restatement too, with its own event id
    assert client.post(url, json=[row("r1", 10)]).json()["restated"] == 1
    events = bus.events(workspace, "metrics")
    assert [type(e).__name__ for e in events] == [
        "MetricObserved",
        "MetricRestated",
        "MetricRestated",
    ]
    assert isinstance(events[1], MetricRestated)
    assert (events[1].data.previous_value, events[1].data.value) == (10, 12)
    assert len({e.event_id for e in events}) == 3
    ledger = client.get(f"/v1/workspaces/{workspace}/metrics/observations/r1").json()
    assert ledger["value"] == 10
    assert ledger["event_id"] == str(events[-1].event_id)


def test_mixed_batch_gets_per_row_answers_and_only_valid_rows_are_stored(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    url = f"/v1/workspaces/{workspace}/metrics"
    client.post(url, json=[row("seen", 5)])
    batch = [
        row("m1", 1),
        {**row("m2"), "value": "lots"},  # invalid
        row("seen", 5),  # duplicate
        row("m3", 3),
        {**row("m4"), "period_end": "2025-02-01T00:00:00Z"},  # ends before it starts
        "not an object",
        row("m1", 1),  # duplicate within the batch
    ]
    answer = client.post(url, json=batch)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["restated"], body["rejected"]) == (
        2,
        2,
        0,
        3,
    )
    by_index = {e["index"]: e["errors"] for e in body["errors"]}
    assert set(by_index) == {1, 4, 5}
    assert by_index[1][0]["field"] == "value"
    assert "period_end" in by_index[4][0]["message"]
    assert by_index[5][0]["field"] == "(row)"
    assert sorted(observation_ids(bus, workspace)) == ["m1", "m3", "seen"]
    letters = bus.dead_letters(workspace, "metrics")
    assert len(letters) == 3
    headers, data = letters[0]
    assert headers["Tn-Reason"] == "invalid_row"
    assert headers["Tn-Door"] == "http"
    assert headers["Tn-Row-Index"] == "1"
    assert headers["Tn-Attempts"] == "1"
    assert orjson.loads(data)["value"] == "lots"
    metrics = client.get("/metrics").text
    assert 'truenorth_intake_rejected_total{reason="invalid_row",service="metrics"} 3.0' in metrics


def test_every_row_rejected_is_422_with_the_same_shape(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    answer = client.post(f"/v1/workspaces/{workspace}/metrics", json=[{"value": 1}])
    assert answer.status_code == 422
    assert answer.json()["rejected"] == 1
    assert answer.json()["errors"][0]["index"] == 0
    assert bus.events(workspace, "metrics") == []


def test_ndjson_gzip_with_line_numbers(client: TestClient, bus: Bus, workspace: str) -> None:
    lines = [orjson.dumps(row("n1")), b"", orjson.dumps(row("n2")), b"{oops", b""]
    body = gzip.compress(b"\n".join(lines))
    answer = client.post(
        f"/v1/workspaces/{workspace}/metrics",
        content=body,
        headers={"content-type": "application/x-ndjson", "content-encoding": "gzip"},
    )
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 2
    assert answer.json()["errors"] == [
        {"index": 2, "line": 4, "errors": [answer.json()["errors"][0]["errors"][0]]}
    ]
    assert "line 4" in answer.json()["errors"][0]["errors"][0]["message"]
    assert sorted(observation_ids(bus, workspace)) == ["n1", "n2"]


def test_limits_answer_413_before_anything_is_stored(
    nats_url: str, tmp_path: Path, bus: Bus, workspace: str
) -> None:
    with make_client(
        nats_url, tmp_path, workspace, max_rows_per_request=3, max_request_bytes=4000
    ) as client:
        url = f"/v1/workspaces/{workspace}/metrics"
        too_many = client.post(url, json=[row(f"x{i}") for i in range(4)])
        assert too_many.status_code == 413
        assert "limit is 3" in too_many.json()["detail"]
        ndjson = b"\n".join(orjson.dumps(row(f"y{i}")) for i in range(4))
        assert (
            client.post(
                url, content=ndjson, headers={"content-type": "application/x-ndjson"}
            ).status_code
            == 413
        )
        too_big = client.post(
            url, content=b"[" + b" " * 5000 + b"]", headers={"content-type": "application/json"}
        )
        assert too_big.status_code == 413
        bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
        assert len(bomb) < 4000
        inflated = client.post(
            url,
            content=bomb,
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        assert inflated.status_code == 413
        assert "decompressed" in inflated.json()["detail"]
        assert (
            client.post(url, content=b"[]", headers={"content-type": "text/csv"}).status_code == 415
        )
        assert (
            client.post(url, content=b"[", headers={"content-type": "application/json"}).status_code
            == 422
        )
    assert bus.events(workspace, "metrics") == []


def test_unknown_observation_is_404(client: TestClient, workspace: str) -> None:
    answer = client.get(f"/v1/workspaces/{workspace}/metrics/observations/nope")
    assert answer.status_code == 404


def test_a_lost_ledger_write_is_deduplicated_by_jetstream(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    """The events were acknowledged but the ledger write was lost: the client's retry makes
    the same event ids; JetStream refuses the atomic chunk as a duplicate, the fallback
    publishes one by one and every message is acknowledged as a duplicate."""
    from sqlalchemy import text

    url = f"/v1/workspaces/{workspace}/metrics"
    batch = [row(f"l{i}", float(i)) for i in range(10)]
    assert client.post(url, json=batch).json()["accepted"] == 10
    ingestor = client.app.state.runtime.state["ingestor"]  # type: ignore[attr-defined]
    with ingestor.ledger.engine.begin() as connection:
        connection.execute(
            text("DELETE FROM observation_ledger WHERE workspace = :w"), {"w": workspace}
        )
    fallbacks = ingestor.fallbacks
    assert client.post(url, json=batch).status_code == 200
    assert ingestor.fallbacks == fallbacks + 1
    assert len(bus.events(workspace, "metrics")) == 10
    assert client.post(url, json=batch).json()["duplicates"] == 10  # ledger restored


def test_without_atomic_batches_the_same_guarantees_hold(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    ingestor = client.app.state.runtime.state["ingestor"]  # type: ignore[attr-defined]
    ingestor.atomic = False
    url = f"/v1/workspaces/{workspace}/metrics"
    batch = [row(f"p{i}", float(i)) for i in range(30)]
    assert client.post(url, json=batch).json()["accepted"] == 30
    assert client.post(url, json=batch).json()["duplicates"] == 30
    assert client.post(url, json=[row("p1", 9)]).json()["restated"] == 1
    assert len(bus.events(workspace, "metrics")) == 31
