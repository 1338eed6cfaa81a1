"""The plan and the campaigns of one workspace as they stood at one time: frozen values read
from the projection's tables (`truenorth.alignment.store.read`), the input of every business
rule. Times are integer microseconds (`timeunits`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.contract.common import (
    DEFAULT_GUARDRAILS,
    Aggregation,
    Direction,
    Guardrails,
    ObjectiveSpec,
    PeriodPlan,
    kpi_floor,
)


@dataclass(frozen=True, slots=True)
class StrategyView:
    strategy_id: str
    defined: bool = False
    name: str = ""
    owner: str = ""
    target_segments: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    guardrails: Guardrails | None = None
    """The strategy's defaults (GuardrailsSet without objective_id)."""
    periods: Mapping[str, PeriodPlan] = field(default_factory=dict)
    change_counts: Mapping[str, int] = field(default_factory=dict)
    """Strategy events per type, for change annotations."""
    last_change: int = 0

    def current_period(self, at: int) -> PeriodPlan | None:
        """The planning period containing `at` (the latest-starting one if several do)."""
        best: PeriodPlan | None = None
        for period in self.periods.values():
            if to_micros(period.start) <= at < to_micros(period.end) and (
                best is None or (period.start, period.period_id) > (best.start, best.period_id)
            ):
                best = period
        return best


@dataclass(frozen=True, slots=True)
class SpecView:
    """An objective's spec as the rules read it: the values of the validated `ObjectiveSpec`
    (the contract) in a slotted dataclass. 10 000 specs held as pydantic models were 13.9 MB,
    3.4 MB as this (benchmarks/README.md, nineteenth session)."""

    objective_id: str
    name: str
    kpi: str
    aggregation: Aggregation
    numerator: str | None
    denominator: str | None
    min_value: float | None
    max_value: float | None
    baseline: float
    target: float
    direction: Direction
    start: datetime
    deadline: datetime
    phasing: Mapping[str, float] | None
    cost_per_outcome: float | None
    owner: str
    guardrails: Guardrails | None

    @classmethod
    def of(cls, spec: ObjectiveSpec) -> SpecView:
        return cls(**{name: getattr(spec, name) for name in ObjectiveSpec.model_fields})

    @property
    def lower_bound(self) -> float | None:
        return kpi_floor(self.aggregation, self.min_value)


@dataclass(frozen=True, slots=True)
class ObjectiveView:
    objective_id: str
    strategy_id: str
    spec: SpecView | None
    retired: bool = False
    override: Guardrails | None = None
    """GuardrailsSet for this objective (latest wins)."""

    @property
    def active(self) -> bool:
        return self.spec is not None and not self.retired

    @property
    def start(self) -> int:
        return 0 if self.spec is None else to_micros(self.spec.start)

    @property
    def deadline(self) -> int:
        return 0 if self.spec is None else to_micros(self.spec.deadline)


@dataclass(frozen=True, slots=True)
class CampaignView:
    campaign_id: str
    launched: bool = False
    """False while only metrics have been seen for this id."""
    name: str = ""
    owner: str = ""
    channel: str = ""
    segment: str = ""
    budget: float = 0.0
    start: int = 0
    end: int = 0
    status: str = "planned"
    went_live: int | None = None
    """When it last went live."""
    stopped: int | None = None
    """When it last stopped being live (paused or ended while live)."""
    objective_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckInView:
    """An objective owner's check-in (`ObjectiveCheckedIn`): what they believe, beside what
    the data says; `corrected_value` is their own reading of the KPI, from `source`."""

    objective_id: str
    confidence: str
    narrative: str
    corrected_value: float | None
    source: str | None
    actor: str
    at: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "narrative": self.narrative,
            "corrected_value": self.corrected_value,
            "source": self.source,
            "actor": self.actor,
            "at": from_micros(self.at).isoformat(),
        }


@dataclass(frozen=True)
class WorkspaceView:
    name: str
    strategies: Mapping[str, StrategyView]
    objectives: Mapping[str, ObjectiveView]
    campaigns: Mapping[str, CampaignView]
    checkins: Mapping[str, tuple[CheckInView, ...]] = field(default_factory=dict)
    """objective_id -> its check-ins as of the moment, newest first."""

    @cached_property
    def links(self) -> dict[str, tuple[str, ...]]:
        """objective_id -> ids of the campaigns linked to it, sorted."""
        linked: dict[str, list[str]] = {}
        for campaign_id in sorted(self.campaigns):
            for objective_id in self.campaigns[campaign_id].objective_ids:
                linked.setdefault(objective_id, []).append(campaign_id)
        return {o: tuple(c) for o, c in linked.items()}

    def linked_campaigns(self, objective_id: str) -> list[CampaignView]:
        return [self.campaigns[c] for c in self.links.get(objective_id, ())]

    @cached_property
    def _active(self) -> frozenset[str]:
        return frozenset(o for o, view in self.objectives.items() if view.active)

    @cached_property
    def _owner(self) -> dict[str, str]:
        """objective_id -> its strategy, for objectives with a spec."""
        return {o: v.strategy_id for o, v in self.objectives.items() if v.spec is not None}

    def active_objective_ids(self, campaign: CampaignView) -> tuple[str, ...]:
        return tuple(o for o in campaign.objective_ids if o in self._active)

    def strategies_of(self, campaign: CampaignView) -> tuple[str, ...]:
        """Strategies owning the campaign's objectives; a workspace with a single strategy owns
        every campaign (so untethered spend still shows up in its figures)."""
        owners = {self._owner[o] for o in campaign.objective_ids if o in self._owner}
        if not owners and len(self.strategies) == 1:
            return tuple(self.strategies)
        return tuple(sorted(owners))

    def strategy_guardrails(self, strategy_id: str | None) -> Guardrails:
        """DEFAULT_GUARDRAILS < the strategy's defaults."""
        strategy = self.strategies.get(strategy_id) if strategy_id else None
        if strategy is not None and strategy.guardrails is not None:
            return strategy.guardrails.merged_over(DEFAULT_GUARDRAILS)
        return DEFAULT_GUARDRAILS

    def effective_guardrails(self, objective: ObjectiveView) -> Guardrails:
        """DEFAULT_GUARDRAILS < strategy defaults < the spec's guardrails < GuardrailsSet for
        the objective."""
        merged = self.strategy_guardrails(objective.strategy_id)
        if objective.spec is not None and objective.spec.guardrails is not None:
            merged = objective.spec.guardrails.merged_over(merged)
        if objective.override is not None:
            merged = objective.override.merged_over(merged)
        return merged
