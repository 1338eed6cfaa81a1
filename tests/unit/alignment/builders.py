"""Event factories for the alignment domain tests: readable scenarios, fixed clocks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from truenorth.contract.campaigns import (
    CampaignActivated,
    CampaignBudgetChanged,
    CampaignEnded,
    CampaignLaunched,
    CampaignLaunchedData,
    CampaignPaused,
    CampaignResumed,
    CampaignStateData,
    ObjectiveLinkData,
    ObjectiveLinked,
    ObjectiveUnlinked,
)
from truenorth.contract.common import Guardrails, ObjectiveSpec, PeriodPlan
from truenorth.contract.metrics import (
    MetricObserved,
    MetricRestated,
    MetricRestatedData,
    Observation,
)
from truenorth.contract.strategy import (
    BudgetPlanned,
    BudgetPlannedData,
    DriftAcknowledged,
    DriftAcknowledgedData,
    GuardrailsSet,
    GuardrailsSetData,
    ObjectiveAdded,
    ObjectiveCheckedIn,
    ObjectiveCheckedInData,
    ObjectiveRetired,
    ObjectiveRetiredData,
    ObjectiveRevised,
    ObjectiveRevisedData,
    ObjectiveSetData,
    PeriodRemoved,
    PeriodRemovedData,
    StrategyDefined,
    StrategyDefinedData,
)

WS = "acme"
STRATEGY = "growth"
T0 = datetime(2025, 10, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """T0 + n days."""
    return T0 + timedelta(days=n)


def _ids(seed: str) -> dict[str, Any]:
    return {"event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed)}


_counter = {"n": 0}


def _next(prefix: str) -> dict[str, Any]:
    _counter["n"] += 1
    return _ids(f"{prefix}-{_counter['n']}")


def new_event_id() -> uuid.UUID:
    """A fresh event id (a resend of the same facts by a producer)."""
    event_id: uuid.UUID = _next("resend")["event_id"]
    return event_id


def strategy_defined(
    segments: tuple[str, ...] = ("cxo", "it-leads"),
    channels: tuple[str, ...] = ("linkedin", "search", "events"),
    at: datetime = T0,
    workspace: str = WS,
    strategy_id: str = STRATEGY,
) -> StrategyDefined:
    return StrategyDefined(
        **_next("strategy"),
        workspace=workspace,
        aggregate_id=strategy_id,
        occurred_at=at,
        recorded_at=at,
        data=StrategyDefinedData(
            name="Growth FY25", target_segments=segments, allowed_channels=channels
        ),
    )


def spec(
    objective_id: str = "leads-q4",
    name: str = "Leads Q4",
    kpi: str = "leads",
    target: float = 1000,
    baseline: float = 0,
    start: datetime = T0,
    deadline: datetime | None = None,
    **extra: Any,
) -> ObjectiveSpec:
    return ObjectiveSpec(
        objective_id=objective_id,
        name=name,
        kpi=kpi,
        target=target,
        baseline=baseline,
        start=start,
        deadline=deadline or day(100),
        **extra,
    )


def objective_added(
    objective: ObjectiveSpec | None = None,
    at: datetime = T0,
    workspace: str = WS,
    strategy_id: str = STRATEGY,
) -> ObjectiveAdded:
    return ObjectiveAdded(
        **_next("objective"),
        workspace=workspace,
        aggregate_id=strategy_id,
        occurred_at=at,
        recorded_at=at,
        data=ObjectiveSetData(objective=objective or spec()),
    )


def objective_revised(objective: ObjectiveSpec, at: datetime = T0) -> ObjectiveRevised:
    return ObjectiveRevised(
        **_next("revised"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=at,
        data=ObjectiveRevisedData(objective=objective),
    )


def objective_retired(objective_id: str = "leads-q4", at: datetime = T0) -> ObjectiveRetired:
    return ObjectiveRetired(
        **_next("retired"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=at,
        data=ObjectiveRetiredData(objective_id=objective_id),
    )


def guardrails_set(
    objective_id: str | None = None, at: datetime = T0, **values: Any
) -> GuardrailsSet:
    return GuardrailsSet(
        **_next("guardrails"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=at,
        data=GuardrailsSetData(guardrails=Guardrails(**values), objective_id=objective_id),
    )


def budget_planned(
    mix: dict[str, float] | None = None,
    budget: float = 100_000,
    period_id: str = "q4",
    start: datetime = T0,
    end: datetime | None = None,
    at: datetime = T0,
) -> BudgetPlanned:
    return BudgetPlanned(
        **_next("budget"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=at,
        data=BudgetPlannedData(
            period=PeriodPlan(
                period_id=period_id,
                start=start,
                end=end or day(100),
                budget=budget,
                channel_mix=mix if mix is not None else {"linkedin": 50, "search": 50},
            )
        ),
    )


def period_removed(period_id: str = "q4", at: datetime = T0) -> PeriodRemoved:
    return PeriodRemoved(
        **_next("period-removed"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=at,
        data=PeriodRemovedData(period_id=period_id),
    )


def drift_acknowledged(drift_id: str, at: datetime) -> DriftAcknowledged:
    return DriftAcknowledged(
        **_next("ack"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=at,
        data=DriftAcknowledgedData(drift_id=drift_id),
    )


def checked_in(
    confidence: str,
    at: datetime,
    *,
    objective_id: str = "leads-q4",
    narrative: str = "Pipeline looks healthy",
    corrected_value: float | None = None,
    source: str | None = None,
    recorded_at: datetime | None = None,
) -> ObjectiveCheckedIn:
    return ObjectiveCheckedIn(
        **_next("checkin"),
        workspace=WS,
        aggregate_id=STRATEGY,
        occurred_at=at,
        recorded_at=recorded_at or at,
        actor="maria",
        data=ObjectiveCheckedInData(
            objective_id=objective_id,
            confidence=confidence,  # type: ignore[arg-type]
            narrative=narrative,
            corrected_value=corrected_value,
            source=source,
        ),
    )


def launched(
    campaign_id: str = "c-a",
    objective_ids: tuple[str, ...] = ("leads-q4",),
    channel: str = "linkedin",
    segment: str = "cxo",
    budget: float = 10_000,
    start: datetime = T0,
    end: datetime | None = None,
    status: str = "live",
    at: datetime | None = None,
    workspace: str = WS,
) -> CampaignLaunched:
    moment = at or start
    return CampaignLaunched(
        **_next("launch"),
        workspace=workspace,
        aggregate_id=campaign_id,
        occurred_at=moment,
        recorded_at=moment,
        data=CampaignLaunchedData(
            campaign_id=campaign_id,
            objective_ids=objective_ids,
            channel=channel,
            segment=segment,
            budget=budget,
            start=start,
            end=end or day(100),
            status=status,
        ),
    )


def _state(cls: Any, campaign_id: str, at: datetime) -> Any:
    return cls(
        **_next(cls.__name__),
        workspace=WS,
        aggregate_id=campaign_id,
        occurred_at=at,
        recorded_at=at,
        data=CampaignStateData(campaign_id=campaign_id),
    )


def paused(campaign_id: str, at: datetime) -> CampaignPaused:
    return _state(CampaignPaused, campaign_id, at)


def resumed(campaign_id: str, at: datetime) -> CampaignResumed:
    return _state(CampaignResumed, campaign_id, at)


def activated(campaign_id: str, at: datetime) -> CampaignActivated:
    return _state(CampaignActivated, campaign_id, at)


def ended(campaign_id: str, at: datetime) -> CampaignEnded:
    return _state(CampaignEnded, campaign_id, at)


def linked(campaign_id: str, objective_id: str, at: datetime = T0) -> ObjectiveLinked:
    return ObjectiveLinked(
        **_next("link"),
        workspace=WS,
        aggregate_id=campaign_id,
        occurred_at=at,
        recorded_at=at,
        data=ObjectiveLinkData(campaign_id=campaign_id, objective_id=objective_id),
    )


def unlinked(campaign_id: str, objective_id: str, at: datetime = T0) -> ObjectiveUnlinked:
    return ObjectiveUnlinked(
        **_next("unlink"),
        workspace=WS,
        aggregate_id=campaign_id,
        occurred_at=at,
        recorded_at=at,
        data=ObjectiveLinkData(campaign_id=campaign_id, objective_id=objective_id),
    )


def budget_changed(campaign_id: str, budget: float, at: datetime = T0) -> CampaignBudgetChanged:
    from truenorth.contract.campaigns import CampaignBudgetChangedData

    return CampaignBudgetChanged(
        **_next("campaign-budget"),
        workspace=WS,
        aggregate_id=campaign_id,
        occurred_at=at,
        recorded_at=at,
        data=CampaignBudgetChangedData(campaign_id=campaign_id, budget=budget, previous_budget=0),
    )


def observed(
    campaign_id: str,
    metric: str,
    value: float,
    period_start: datetime,
    period_end: datetime | None = None,
    observation_id: str | None = None,
    recorded_at: datetime | None = None,
    workspace: str = WS,
) -> MetricObserved:
    end = period_end or period_start + timedelta(days=1)
    oid = observation_id or f"{campaign_id}-{metric}-{period_start:%Y%m%dT%H%M}"
    moment = recorded_at or end
    return MetricObserved(
        **_ids(f"observed-{workspace}-{oid}-{value}-{moment.isoformat()}"),
        workspace=workspace,
        aggregate_id=campaign_id,
        occurred_at=end,
        recorded_at=moment,
        data=Observation(
            observation_id=oid,
            campaign_id=campaign_id,
            metric=metric,
            value=value,
            period_start=period_start,
            period_end=end,
        ),
    )


def restated(original: MetricObserved, value: float, recorded_at: datetime) -> MetricRestated:
    data = original.data
    return MetricRestated(
        **_ids(f"restated-{data.observation_id}-{value}-{recorded_at.isoformat()}"),
        workspace=original.workspace,
        aggregate_id=data.campaign_id,
        occurred_at=original.occurred_at,
        recorded_at=recorded_at,
        data=MetricRestatedData(
            **data.model_dump(exclude={"value"}), value=value, previous_value=data.value
        ),
    )


def daily(
    campaign_id: str, metric: str, values: list[float], first_day: float = 0
) -> list[MetricObserved]:
    """One observation per day starting at day(first_day)."""
    return [observed(campaign_id, metric, v, day(first_day + i)) for i, v in enumerate(values)]
