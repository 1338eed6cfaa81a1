"""A bare date at the strategy doors reads as everywhere (truenorth.timeparse): a start is
00:00 UTC of that day, a deadline or a period's end the next midnight UTC; a date with a zone
but no time, or no date at all, is 422 naming the field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.integration.strategy.test_api import OBJECTIVE, base, client, define
from truenorth.bus.eventstore import EventStore, connect
from truenorth.contract.strategy import ObjectiveAdded

__all__ = ["client"]  # the fixture, shared with test_api


def added_objectives(nats_url: str, workspace: str) -> list[ObjectiveAdded]:
    async def read() -> list[ObjectiveAdded]:
        nc = await connect(nats_url)
        events, _ = await EventStore(nc.jetstream()).read_aggregate(workspace, "strategy", "acme")
        await nc.drain()
        return [e for e in events if isinstance(e, ObjectiveAdded)]

    return asyncio.run(read())


def test_an_objective_sent_over_http_with_bare_dates_spans_whole_utc_days(
    client: TestClient, nats_url: str, workspace: str
) -> None:
    define(client, workspace)  # OBJECTIVE: start 2026-10-01, deadline 2026-12-31
    ((added),) = added_objectives(nats_url, workspace)
    spec = added.data.objective
    assert (spec.start, spec.deadline) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("field", ["start", "deadline"])
@pytest.mark.parametrize("written", ["2026-12-31Z", "2026-13-45"])
def test_a_date_with_a_zone_or_no_date_is_422_naming_the_field(
    client: TestClient, workspace: str, field: str, written: str
) -> None:
    define(client, workspace)
    body = {**OBJECTIVE, "objective_id": "other", field: written}
    response = client.post(f"{base(workspace)}/objectives", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field and "is not a date" in error["message"]
