"""A deterministic, realistic mix of events for benchmarks and fault tests: strategies with
objectives and a plan, campaigns linked to them, and a long tail of metric observations
(leads and spend) with duplicates and restatements."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from truenorth.contract.campaigns import CampaignLaunched, CampaignLaunchedData
from truenorth.contract.common import ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import (
    MetricObserved,
    MetricRestated,
    MetricRestatedData,
    Observation,
)
from truenorth.contract.strategy import (
    BudgetPlanned,
    BudgetPlannedData,
    ObjectiveAdded,
    ObjectiveSetData,
    StrategyDefined,
    StrategyDefinedData,
)

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 12, 31, tzinfo=UTC)
CHANNELS = ("search", "social", "video", "email")


def strategy_events(
    workspace: str, strategies: int, objectives_per_strategy: int, at: datetime | None = None
) -> Iterator[EnvelopeFields]:
    """`at`: when the plan was made (default: now, as the events are made)."""
    when = {} if at is None else {"occurred_at": at}
    for s in range(strategies):
        sid = f"s{s}"
        yield StrategyDefined(
            **when,
            workspace=workspace,
            aggregate_id=sid,
            data=StrategyDefinedData(
                name=f"Strategy {s}", target_segments=("smb", "cto"), allowed_channels=CHANNELS
            ),
        )
        yield BudgetPlanned(
            **when,
            workspace=workspace,
            aggregate_id=sid,
            data=BudgetPlannedData(
                period=PeriodPlan(
                    period_id="q4",
                    start=START,
                    end=END,
                    budget=1_000_000,
                    channel_mix={"search": 40, "social": 30, "video": 20, "email": 10},
                )
            ),
        )
        for o in range(objectives_per_strategy):
            yield ObjectiveAdded(
                **when,
                workspace=workspace,
                aggregate_id=sid,
                data=ObjectiveSetData(
                    objective=ObjectiveSpec(
                        objective_id=f"s{s}-o{o}",
                        name=f"Leads {s}.{o}",
                        kpi="leads",
                        target=10_000,
                        start=START,
                        deadline=END,
                        cost_per_outcome=50,
                    )
                ),
            )


def campaign_events(
    workspace: str,
    campaigns: int,
    strategies: int,
    objectives_per_strategy: int,
    at: datetime | None = None,
) -> Iterator[EnvelopeFields]:
    """`at`: when the campaigns were launched (default: now)."""
    when = {} if at is None else {"occurred_at": at}
    for c in range(campaigns):
        s = c % strategies
        o = (c // strategies) % objectives_per_strategy
        yield CampaignLaunched(
            **when,
            workspace=workspace,
            aggregate_id=f"c{c}",
            data=CampaignLaunchedData(
                campaign_id=f"c{c}",
                objective_ids=(f"s{s}-o{o}",),
                channel=CHANNELS[c % len(CHANNELS)],
                segment="smb",
                budget=20_000,
                start=START,
                end=END,
            ),
        )


def metric_events(
    workspace: str,
    count: int,
    campaigns: int,
    duplicate_share: float = 0.02,
    restatement_share: float = 0.01,
    seed: int = 7,
) -> Iterator[EnvelopeFields]:
    """`count` metric events; duplicates reuse an earlier event whole (same event_id),
    restatements give an earlier observation_id a new value."""
    rng = random.Random(seed)
    recent: list[MetricObserved] = []
    for i in range(count):
        roll = rng.random()
        if recent and roll < duplicate_share:
            yield rng.choice(recent)
            continue
        if recent and roll < duplicate_share + restatement_share:
            earlier = rng.choice(recent)
            yield MetricRestated(
                workspace=workspace,
                aggregate_id=earlier.aggregate_id,
                data=MetricRestatedData(
                    **{**earlier.data.model_dump(), "value": earlier.data.value + 1},
                    previous_value=earlier.data.value,
                ),
            )
            continue
        campaign = f"c{rng.randrange(campaigns)}"
        day = START + timedelta(days=rng.randrange(50))
        metric = "spend" if i % 2 else "leads"
        event = MetricObserved(
            workspace=workspace,
            aggregate_id=campaign,
            data=Observation(
                observation_id=f"o{i}",
                campaign_id=campaign,
                metric=metric,
                value=float(rng.randrange(1, 200 if metric == "spend" else 5)),
                period_start=day,
                period_end=day + timedelta(days=1),
                source="bench",
            ),
        )
        recent.append(event)
        if len(recent) > 1000:
            recent.pop(0)
        yield event
