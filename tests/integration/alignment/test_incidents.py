"""Incidents through the running service: one overspending campaign is one incident naming
it, with its facets, the acknowledgements of any facet or of the incident, and the strategy
changes that answered it; as of a past moment it is what it was then."""

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
from truenorth.contract.campaigns import CampaignLaunched, CampaignLaunchedData
from truenorth.contract.common import ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved, Observation
from truenorth.contract.strategy import (
    BudgetPlanned,
    BudgetPlannedData,
    DriftAcknowledged,
    DriftAcknowledgedData,
    ObjectiveAdded,
    ObjectiveSetData,
    StrategyDefined,
    StrategyDefinedData,
)
from truenorth.settings import AlignmentSettings, SharedSettings

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=10)
END = NOW + timedelta(days=20)


def launched(ws: str, campaign: str, channel: str, budget: float) -> CampaignLaunched:
    return CampaignLaunched(
        workspace=ws,
        aggregate_id=campaign,
        occurred_at=START,
        data=CampaignLaunchedData(
            campaign_id=campaign,
            objective_ids=("leads",),
            channel=channel,
            segment="smb",
            budget=budget,
            start=START,
            end=END,
        ),
    )


def spend(ws: str, campaign: str, amount: float, day: int) -> MetricObserved:
    return daily(ws, campaign, "spend", amount, day)


def daily(ws: str, campaign: str, metric: str, amount: float, day: int) -> MetricObserved:
    """One day's figure of a campaign, `day` days after START."""
    begins = START + timedelta(days=day)
    return MetricObserved(
        workspace=ws,
        aggregate_id=campaign,
        occurred_at=begins + timedelta(days=1),
        data=Observation(
            observation_id=f"{campaign}-{metric}-{day}",
            campaign_id=campaign,
            metric=metric,
            value=amount,
            period_start=begins,
            period_end=begins + timedelta(days=1),
        ),
    )


def history(ws: str) -> list[EnvelopeFields]:
    objective = ObjectiveSpec(
        objective_id="leads", name="Leads", kpi="leads", target=100, start=START, deadline=END
    )
    plan = PeriodPlan(
        period_id="p",
        start=START,
        end=END,
        budget=30_000,
        channel_mix={"linkedin": 50, "search": 50},
    )
    return [
        StrategyDefined(
            workspace=ws,
            aggregate_id="acme",
            occurred_at=START,
            data=StrategyDefinedData(name="Acme"),
        ),
        ObjectiveAdded(
            workspace=ws,
            aggregate_id="acme",
            occurred_at=START,
            data=ObjectiveSetData(objective=objective),
        ),
        BudgetPlanned(
            workspace=ws,
            aggregate_id="acme",
            occurred_at=START,
            data=BudgetPlannedData(period=plan),
        ),
        launched(ws, "c-search", "search", 3_000),
        launched(ws, "c-linkedin", "linkedin", 15_000),
        *(spend(ws, "c-search", 400, d) for d in range(9)),  # 4× its time-phased budget
        *(spend(ws, "c-linkedin", 100, d) for d in range(9)),
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


def incidents(client: TestClient, ws: str, **params: str) -> list[dict[str, object]]:
    response = client.get(f"/v1/workspaces/{ws}/incidents", params=params)
    assert response.status_code == 200, response.text
    return response.json()["incidents"]


def eventually(condition, seconds: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met")


def test_one_overspending_campaign_is_one_incident_with_its_acknowledgements(
    alignment: TestClient, nats_url: str, workspace: str
) -> None:
    asyncio.run(append_all(nats_url, history(workspace)))
    found = eventually(  # the incident grows its facets as the spend is folded
        lambda: [
            i
            for i in incidents(alignment, workspace)
            if i["incident_id"] == "campaign-c-search" and "budget_overrun" in i["kinds"]
        ]
    )
    [incident] = found
    assert incident["subject"] == "campaign c-search"
    assert {"budget_overrun", "channel_mix_drift"} <= set(incident["kinds"])
    assert incident["severity"] == "critical"  # the overrun is past the whole budget's share
    others = [
        i
        for i in incidents(alignment, workspace)
        if i["severity"] != "info" and i["incident_id"] != "campaign-c-search"
    ]
    assert not [i for i in others if "c-search" in str(i["cause"])]
    opened = datetime.fromisoformat(str(incident["opened_at"]))

    ack = DriftAcknowledged(
        workspace=workspace,
        aggregate_id="acme",
        actor="maria",
        data=DriftAcknowledgedData(drift_id="campaign-c-search", note="pausing it tomorrow"),
    )
    second = DriftAcknowledged(
        workspace=workspace,
        aggregate_id="acme",
        actor="li",
        data=DriftAcknowledgedData(drift_id="campaign-c-search", note="agreed"),
    )
    asyncio.run(append_all(nats_url, [ack, second]))
    [acknowledged] = eventually(
        lambda: [
            i
            for i in incidents(alignment, workspace)
            if i["incident_id"] == "campaign-c-search" and len(i["acknowledgements"]) == 2
        ]
    )
    assert acknowledged["acknowledged"] is True
    assert [a["note"] for a in acknowledged["acknowledgements"]] == [
        "pausing it tomorrow",
        "agreed",
    ]
    before = (opened - timedelta(seconds=1)).isoformat()
    assert incidents(alignment, workspace, as_of=before) == []
