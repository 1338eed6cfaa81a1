"""A bare date at the metrics doors reads as everywhere (truenorth.timeparse): a period's start
is 00:00 UTC of that day, its end the next midnight UTC, so `2025-03-01`–`2025-03-01` is that
whole day; a date with a zone but no time, or no date at all, is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.integration.campaigns.support import Bus, eventually
from tests.integration.metrics.conftest import row
from truenorth.bus.streams import intake_subject
from truenorth.client import MetricsClient
from truenorth.metrics import cli

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


def test_a_csv_file_with_bare_dates_is_whole_days_and_a_zoned_date_names_field_and_line(
    client: TestClient, bus: Bus, workspace: str, tmp_path: Path, emit_through_client: None
) -> None:
    path = tmp_path / "days.csv"
    path.write_text(
        "campaign_id,metric,value,period_start,period_end,source\n"
        "spring,leads,3,2025-03-01,2025-03-01,crm\n"
        "spring,leads,4,2025-03-02,2025-03-02Z,crm\n"
    )
    result = CliRunner().invoke(cli.emit_app, ["metrics", str(path), "--workspace", workspace])
    assert result.exit_code == 1, result.output
    assert "line 3" in result.output and "period_end" in result.output
    (event,) = bus.events(workspace, "metrics")
    assert event.data.period_end == datetime(2025, 3, 2, tzinfo=UTC)
    # the same day sent with times is the same fact (same derived id), not a second one
    times = {"period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-02T00:00:00Z"}
    same = {"campaign_id": "spring", "metric": "leads", "value": 3, "source": "crm", **times}
    assert MetricsClient(http=client, workspace=workspace).send([same]).duplicates == 1
