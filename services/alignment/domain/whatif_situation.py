"""What the what-if model sees (docs/design.md, "What-if"): a strategy's campaigns as observed
over the trailing window, the period's plan, and each objective's daily series. Pure data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from truenorth.alignment.domain.entities import SpecView
from truenorth.contract.common import PeriodPlan

DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A campaign of the strategy as observed over the trailing window."""

    campaign_id: str
    channel: str
    objective_ids: tuple[str, ...]
    spend: float
    """Σ spend over the trailing window."""
    peak_daily_spend: float
    """The highest spend of one day in the window."""
    outcomes: Mapping[str, float]
    """metric -> Σ over the trailing window."""
    remaining_budget: float
    """Its budget less everything it has spent."""


@dataclass(frozen=True, slots=True)
class ObjectiveRecord:
    objective_id: str
    spec: SpecView
    series: Sequence[tuple[date, float]]
    """Its daily series over its forecast window (`truenorth.alignment.domain.daily`)."""
    so_far: float
    """Its actual: a `sum` KPI's total so far."""
    window_days: float


@dataclass(frozen=True)
class Situation:
    strategy_id: str
    now: datetime
    window_days: float
    """The trailing window (days) the yields were observed over."""
    period: PeriodPlan | None
    allowed_channels: tuple[str, ...]
    period_spend_by_channel: Mapping[str, float]
    campaigns: Mapping[str, CampaignRecord]
    objectives: Sequence[ObjectiveRecord]
    known_campaigns: frozenset[str] = field(default_factory=frozenset)
    """Every campaign id of the workspace (a shift may name one of another strategy only to
    be told so)."""

    def campaigns_in(self, channel: str) -> list[CampaignRecord]:
        return [c for c in self.campaigns.values() if c.channel == channel]
