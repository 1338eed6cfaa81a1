"""JetStream stopped → 503 and nothing recorded; restarted → the same request succeeds.
The NATS door: valid rows stored, poison messages dead-lettered with their original bytes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from tests.integration.metrics.conftest import make_client, row
from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.streams import intake_subject


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "own-nats").start()
    yield server
    server.stop()


def test_jetstream_down_is_503_then_the_same_request_succeeds(
    own_nats: EmbeddedNats, tmp_path: Path, workspace: str
) -> None:
    bus = Bus(own_nats.url)
    batch = [row(f"out{i}", float(i)) for i in range(50)]
    url = f"/v1/workspaces/{workspace}/metrics"
    with make_client(own_nats.url, tmp_path / "svc", workspace) as client:
        assert client.post(url, json=[row("before")]).status_code == 200
        own_nats.stop()
        down = client.post(url, json=batch)
        assert down.status_code == 503
        assert down.headers["retry-after"]
        assert client.get(f"{url}/observations/out0").status_code == 404  # nothing in the ledger
        own_nats.start()  # same data dir, same port
        deadline = time.monotonic() + 20
        while True:  # what a client does: retry the same bytes until it is acknowledged
            answer = client.post(url, json=batch)
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            assert answer.status_code == 503
            time.sleep(0.5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] + answer.json()["duplicates"] == 50
        assert client.post(url, json=batch).json()["duplicates"] == 50
        assert client.get(f"{url}/observations/out7").json()["value"] == 7
    ids = [e.data.observation_id for e in bus.events(workspace, "metrics")]
    assert sorted(ids) == sorted(["before", *(f"out{i}" for i in range(50))])


def test_nats_door_stores_valid_rows_and_dead_letters_poison(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    subject = intake_subject(workspace, "metrics")
    bus.publish(subject, orjson.dumps([row("n1", 1), row("n2", 2)]))
    bus.publish(subject, orjson.dumps(row("n3", 3)))  # one object per message
    poison = b"\x00not json at all"
    bus.publish(subject, poison)
    half = orjson.dumps([row("n4", 4), {**row("n5"), "metric": "Not A Kpi"}])
    bus.publish(subject, half)
    bus.publish(subject, orjson.dumps(row("n1", 1)))  # a duplicate: acked, nothing stored

    eventually(lambda: len(bus.dead_letters(workspace, "metrics")) == 2)
    eventually(lambda: len(bus.events(workspace, "metrics")) == 4)
    time.sleep(0.5)
    ids = sorted(e.data.observation_id for e in bus.events(workspace, "metrics"))
    assert ids == ["n1", "n2", "n3", "n4"]
    letters = {h["Tn-Reason"]: (h, data) for h, data in bus.dead_letters(workspace, "metrics")}
    headers, data = letters["malformed"]
    assert data == poison  # the original bytes
    assert headers["Tn-Original-Subject"] == subject
    assert headers["Tn-Attempts"] == "1"
    assert headers["Tn-Door"] == "nats"
    headers, data = letters["invalid_row"]
    assert data == half
    assert orjson.loads(headers["Tn-Errors"])[0]["index"] == 1
    assert orjson.loads(headers["Tn-Errors"])[0]["field"] == "metric"
    exposition = client.get("/metrics").text
    assert 'truenorth_intake_rejected_total{reason="malformed",service="metrics"} 1.0' in exposition
    assert 'truenorth_intake_rejected_total{reason="invalid_row",service="metrics"} 1.0' in (
        exposition
    )
