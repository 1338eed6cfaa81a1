"""A bare date at the metrics doors reads as everywhere (truenorth.timeparse): a period's start
is 00:00 UTC of that day, its end the next midnight UTC, so `2025-03-01`–`2025-03-01` is that
whole day; a date with a zone but no time, or no date at all, is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from tests.integration.metrics.conftest import row
from truenorth.bus.streams import intake_subject

ONE_DAY = {"period_start": "2025-03-01", "period_end": "2025-03-01"}


def test_an_observation_with_bare_period_dates_covers_that_whole_utc_day(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    answer = client.post(f"/v1/workspaces/{workspace}/metrics", json=[row("day-1", **ONE_DAY)])
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    (event,) = eventually(lambda: bus.events(workspace, "metrics"))
    assert (event.data.period_start, event.data.period_end) == (
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 3, 2, tzinfo=UTC),
    )
    (_, raw), *_ = bus.raw("METRICS", f"tn.{workspace}.metrics.>")
    written = orjson.loads(raw)["data"]["period_end"]  # a full time on the wire, never a date
    assert datetime.fromisoformat(written) == datetime(2025, 3, 2, tzinfo=UTC)
    assert written.startswith("2025-03-02T00:00:00")


def test_the_same_day_written_as_times_is_the_same_fact_not_a_second_one(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    client.post(f"/v1/workspaces/{workspace}/metrics", json=[row("day-2", **ONE_DAY)])
    again = client.post(f"/v1/workspaces/{workspace}/metrics", json=[row("day-2")])
    assert again.json()["duplicates"] == 1, again.text


@pytest.mark.parametrize("field", ["period_start", "period_end"])
@pytest.mark.parametrize("written", ["2025-03-01Z", "2025-13-45"])
def test_a_date_with_a_zone_or_no_date_is_refused_naming_the_field(
    client: TestClient, workspace: str, field: str, written: str
) -> None:
    answer = client.post(
        f"/v1/workspaces/{workspace}/metrics", json=[row("bad", **{**ONE_DAY, field: written})]
    )
    (error,) = answer.json()["errors"]
    assert [e["field"] for e in error["errors"]] == [field]
    assert "is not a date" in error["errors"][0]["message"]


def test_over_nats_bare_period_dates_are_read_the_same_way(
    client: TestClient, bus: Bus, workspace: str
) -> None:
    bus.publish(intake_subject(workspace, "metrics"), orjson.dumps([row("n-day", **ONE_DAY)]))
    (event,) = eventually(lambda: bus.events(workspace, "metrics"))
    assert event.data.period_end == datetime(2025, 3, 2, tzinfo=UTC)
