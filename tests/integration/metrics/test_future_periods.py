"""Time sanity at the metrics doors: a row whose period ends in the future is refused."""

from __future__ import annotations

import time
from datetime import timedelta

import orjson
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from tests.integration.metrics.conftest import row
from truenorth.bus.streams import intake_subject
from truenorth.contract.envelope import utcnow

FUTURE = {"period_start": "2030-01-01T00:00:00Z", "period_end": "2030-01-02T00:00:00Z"}


def test_a_row_dated_2030_is_422_naming_period_end_and_the_others_are_kept(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    answer = client.post(
        f"/v1/workspaces/{workspace}/metrics", json=[row("ok-1"), row("future-1", **FUTURE)]
    )
    assert answer.status_code in (200, 422), answer.text
    body = answer.json()
    assert body["accepted"] == 1 and body["rejected"] == 1
    (error,) = body["errors"]
    assert error["index"] == 1
    assert error["errors"][0]["field"] == "period_end"
    assert "in the future" in error["errors"][0]["message"]
    eventually(lambda: len(bus.events(workspace, "metrics")) == 1)
    assert [e.data.observation_id for e in bus.events(workspace, "metrics")] == ["ok-1"]


def test_a_period_ending_later_today_is_fine(client: TestClient, workspace: str) -> None:
    now = utcnow()
    today = {
        "period_start": (now - timedelta(hours=1)).isoformat(),
        "period_end": (now + timedelta(hours=12)).isoformat(),
    }
    answer = client.post(f"/v1/workspaces/{workspace}/metrics", json=[row("today", **today)])
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1


def test_over_nats_a_future_row_goes_to_the_dead_letter_queue(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    subject = intake_subject(workspace, "metrics")
    bus.publish(subject, orjson.dumps([row("n-ok"), row("n-future", **FUTURE)]))
    eventually(lambda: len(bus.dead_letters(workspace, "metrics")) == 1)
    eventually(lambda: len(bus.events(workspace, "metrics")) == 1)
    time.sleep(0.3)
    ((headers, _),) = bus.dead_letters(workspace, "metrics")
    (error,) = orjson.loads(headers["Tn-Errors"])
    assert (error["index"], error["field"]) == (1, "period_end")
