"""Time travel through the running service, on both axes, answered by queries: `as_of=T` is
the plan at T against the world up to T (restatements included); `as_of=T&known_at=T` is what
the dashboard showed at T. The read API, the page and the review give the same answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from truenorth.alignment.app import build_app
from truenorth.bus.eventstore import EventStore, connect, provision
from truenorth.contract.campaigns import (
    CampaignLaunched,
    CampaignLaunchedData,
    ObjectiveLinkData,
    ObjectiveUnlinked,
)
from truenorth.contract.common import ObjectiveSpec
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import (
    MetricObserved,
    MetricRestated,
    MetricRestatedData,
    Observation,
)
from truenorth.contract.strategy import (
    ObjectiveAdded,
    ObjectiveRevised,
    ObjectiveRevisedData,
    ObjectiveSetData,
    StrategyDefined,
    StrategyDefinedData,
)
from truenorth.review.build import Period, build_review
from truenorth.settings import AlignmentSettings, SharedSettings

START = datetime(2026, 10, 1, tzinfo=UTC)
DEADLINE = datetime(2026, 12, 31, tzinfo=UTC)
T = datetime(2026, 11, 15, 12, tzinfo=UTC)
"""The moment asked about: everything below happens around it."""


def spec(target: float) -> ObjectiveSpec:
    return ObjectiveSpec(
        objective_id="leads",
        name="Leads",
        kpi="leads",
        target=target,
        start=START,
        deadline=DEADLINE,
    )


def day(n: int) -> datetime:
    return datetime(2026, 11, n, tzinfo=UTC)


def observation(oid: str, value: float, campaign: str, on: int) -> Observation:
    return Observation(
        observation_id=oid,
        campaign_id=campaign,
        metric="leads",
        value=value,
        period_start=day(on),
        period_end=day(on) + timedelta(days=1),
        source="test",
    )


def launched(ws: str, campaign: str) -> CampaignLaunched:
    return CampaignLaunched(
        workspace=ws,
        aggregate_id=campaign,
        occurred_at=START,
        recorded_at=START,
        data=CampaignLaunchedData(
            campaign_id=campaign,
            objective_ids=("leads",),
            channel="search",
            segment="smb",
            budget=10_000,
            start=START,
            end=DEADLINE,
        ),
    )


def history(ws: str) -> list[EnvelopeFields]:
    first = observation("o-1", 100, "c-1", 10)
    return [
        StrategyDefined(
            workspace=ws,
            aggregate_id="acme",
            occurred_at=START,
            recorded_at=START,
            data=StrategyDefinedData(name="Acme"),
        ),
        ObjectiveAdded(
            workspace=ws,
            aggregate_id="acme",
            occurred_at=START,
            recorded_at=START,
            data=ObjectiveSetData(objective=spec(1000)),
        ),
        launched(ws, "c-1"),
        launched(ws, "c-2"),
        MetricObserved(
            workspace=ws,
            aggregate_id="c-1",
            occurred_at=day(11),
            recorded_at=day(11),
            data=first,
        ),
        MetricObserved(
            workspace=ws,
            aggregate_id="c-2",
            occurred_at=day(12),
            recorded_at=day(12),
            data=observation("o-2", 50, "c-2", 11),
        ),
        # after T: a period that ended after T, a restatement of one before it, a target cut,
        # and c-2 unlinked
        MetricObserved(
            workspace=ws,
            aggregate_id="c-1",
            occurred_at=day(21),
            recorded_at=day(21),
            data=observation("o-3", 70, "c-1", 20),
        ),
        MetricRestated(
            workspace=ws,
            aggregate_id="c-1",
            occurred_at=day(11),
            recorded_at=day(18),
            data=MetricRestatedData(
                **first.model_dump(exclude={"value"}), value=130, previous_value=100
            ),
        ),
        ObjectiveRevised(
            workspace=ws,
            aggregate_id="acme",
            occurred_at=day(20),
            recorded_at=day(20),
            data=ObjectiveRevisedData(objective=spec(800), changed_fields=("target",)),
        ),
        ObjectiveUnlinked(
            workspace=ws,
            aggregate_id="c-2",
            occurred_at=day(22),
            recorded_at=day(22),
            data=ObjectiveLinkData(campaign_id="c-2", objective_id="leads"),
        ),
    ]


async def append_all(nats_url: str, events: list[EnvelopeFields]) -> None:
    nc = await connect(nats_url)
    store = EventStore(nc.jetstream())
    await provision(nc.jetstream())
    for event in events:
        await store.append(event)
    await nc.drain()


@pytest.fixture
def alignment(nats_url: str, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    settings = AlignmentSettings(database_url=database_url, tick_seconds=0.2, port=0)
    with TestClient(build_app(shared, settings)) as client:
        yield client


def objective(client: TestClient, ws: str, **params: str) -> dict[str, object]:
    response = client.get(f"/v1/workspaces/{ws}/objectives/leads", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def folded(client: TestClient, ws: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = client.get(f"/v1/workspaces/{ws}/objectives/leads")
        if response.status_code == 200 and response.json()["target"] == 800:
            body = response.json()
            if body["actual"] == 200 and len(body["campaigns"]) == 1:
                return
        time.sleep(0.2)
    raise AssertionError("the service did not fold the history")


def test_the_two_axes_of_time_travel(alignment: TestClient, nats_url: str, workspace: str) -> None:
    asyncio.run(append_all(nats_url, history(workspace)))
    folded(alignment, workspace)  # now: 130 (restated) + 70, target 800, c-2 unlinked

    known_then = objective(alignment, workspace, as_of=T.isoformat(), known_at=T.isoformat())
    assert known_then["target"] == 1000  # the target cut after T is not there
    assert known_then["actual"] == 150  # 100 as recorded then + c-2's 50, still linked
    assert {c["campaign_id"] for c in known_then["campaigns"]} == {"c-1", "c-2"}

    known_now = objective(alignment, workspace, as_of=T.isoformat())
    assert known_now["target"] == 1000
    assert known_now["actual"] == 180  # the restatement recorded after T counts, o-3 does not

    # a bare date is the end of that day, the same way everywhere
    assert objective(alignment, workspace, as_of="2026-11-15")["actual"] == 180
    assert objective(alignment, workspace, as_of="2026-11-10")["actual"] == 130  # o-1 ends then
    assert objective(alignment, workspace, as_of="2026-11-09")["actual"] == 0


def test_a_bad_time_is_refused_naming_the_field(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    asyncio.run(append_all(nats_url, history(workspace)))
    folded(alignment, workspace)
    response = alignment.get(
        f"/v1/workspaces/{workspace}/objectives", params={"known_at": "yesterday"}
    )
    assert response.status_code == 422
    assert "known_at" in response.text
    assert alignment.get("/", params={"as_of": "soon"}).status_code == 422


def test_the_api_the_page_and_the_review_agree_on_the_same_moment(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    events = history(workspace)
    asyncio.run(append_all(nats_url, events))
    folded(alignment, workspace)
    api = objective(alignment, workspace, as_of=T.isoformat())
    review = build_review(
        events, Period("2026-Q4", START, DEADLINE + timedelta(days=1)), T, workspace=workspace
    )
    [reviewed] = review.objectives
    assert (reviewed.actual, reviewed.target, reviewed.status) == (
        api["actual"],
        api["target"],
        api["status"],
    )
    assert reviewed.progress == pytest.approx(api["progress"])
    page = alignment.get("/", params={"workspace": workspace, "as_of": T.isoformat()}).text
    assert "Sun 2026-11-15 12:00 UTC" in page
