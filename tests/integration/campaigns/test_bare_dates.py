"""A bare date at the campaigns doors reads as everywhere (truenorth.timeparse): a start is
00:00 UTC of that day, an end the next midnight UTC, `occurred_at` the end of that day; a date
with a zone but no time, or no date at all, is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from truenorth.bus.streams import intake_subject

LAUNCH = {
    "campaign_id": "c-days",
    "name": "Days",
    "channel": "search",
    "segment": "smb",
    "budget": 100,
    "start": "2025-03-01",
    "end": "2025-03-31",
    "occurred_at": "2025-02-27",
}


def test_a_campaign_launched_over_http_with_bare_dates_runs_whole_utc_days(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    answer = client.post(f"/v1/workspaces/{workspace}/campaigns", json=LAUNCH)
    assert answer.status_code in (200, 201), answer.text
    (event,) = eventually(lambda: bus.events(workspace, "campaigns"))
    assert event.data.start == datetime(2025, 3, 1, tzinfo=UTC)
    assert event.data.end == datetime(2025, 4, 1, tzinfo=UTC)
    assert event.occurred_at == datetime(2025, 2, 28, tzinfo=UTC)
    (_, raw), *_ = bus.raw("CAMPAIGNS", f"tn.{workspace}.campaigns.>")
    stored = orjson.loads(raw)
    assert (stored["data"]["start"], stored["data"]["end"]) == (
        "2025-03-01T00:00:00Z",
        "2025-04-01T00:00:00Z",
    )


@pytest.mark.parametrize("field", ["start", "end", "occurred_at"])
@pytest.mark.parametrize("written", ["2025-03-15Z", "2025-13-45"])
def test_a_date_with_a_zone_or_no_date_is_422_naming_the_field(
    client: TestClient, bus: Bus, workspace: str, field: str, written: str
) -> None:
    answer = client.post(f"/v1/workspaces/{workspace}/campaigns", json={**LAUNCH, field: written})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["field"] == field and "is not a date" in error["message"]
    assert bus.events(workspace, "campaigns") == []


def test_over_nats_a_launch_with_bare_dates_is_read_the_same_way(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    bus.publish(
        intake_subject(workspace, "campaigns"), orjson.dumps({"command": "launch", **LAUNCH})
    )
    (event,) = eventually(lambda: bus.events(workspace, "campaigns"))
    assert (event.data.start, event.data.end) == (
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 4, 1, tzinfo=UTC),
    )
