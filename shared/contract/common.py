"""Value types shared by several contexts' events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from truenorth.contract.envelope import Frozen, ShortText, Slug

Kpi = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
"""leads, revenue, conversions, signups, awareness_pct, ... or a custom snake_case name."""

Aggregation = Literal["sum", "latest"]
Direction = Literal["increase", "decrease"]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Figure = Annotated[float, Field(ge=-1e15, le=1e15, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
"""A percentage share, 0–100."""
MonthKey = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]

SPEND_METRIC = "spend"
"""Spend reaches truenorth as metric observations with metric == "spend" (currency units)."""


class Guardrails(Frozen):
    """Thresholds of DESIGN §4–5. Every field optional so objectives can override a subset."""

    on_track_pace: float | None = Field(default=None, gt=0, le=10)
    at_risk_pace: float | None = Field(default=None, gt=0, le=10)
    untethered_spend_share: float | None = Field(default=None, ge=0, le=1)
    idle_days: float | None = Field(default=None, gt=0, le=3650)
    channel_mix_tolerance_pts: float | None = Field(default=None, ge=0, le=100)
    cost_per_outcome_multiple: float | None = Field(default=None, gt=0, le=1000)
    zero_outcome_spend: Money | None = None
    zero_outcome_days: float | None = Field(default=None, gt=0, le=3650)
    budget_overrun_share: float | None = Field(default=None, ge=0, le=10)
    stale_hours: float | None = Field(default=None, gt=0, le=8760)
    forecast_window_days: float | None = Field(default=None, gt=0, le=365)

    def merged_over(self, base: Guardrails) -> Guardrails:
        """self's set values win over base's."""
        values = base.model_dump()
        values.update({k: v for k, v in self.model_dump().items() if v is not None})
        return Guardrails(**values)


DEFAULT_GUARDRAILS = Guardrails(
    on_track_pace=0.95,
    at_risk_pace=0.80,
    untethered_spend_share=0.10,
    idle_days=7,
    channel_mix_tolerance_pts=10,
    cost_per_outcome_multiple=2.0,
    zero_outcome_spend=1000,
    zero_outcome_days=14,
    budget_overrun_share=0.10,
    stale_hours=24,
    forecast_window_days=7,
)


class ObjectiveSpec(Frozen):
    objective_id: Slug
    name: ShortText
    kpi: Kpi
    aggregation: Aggregation = "sum"
    baseline: Figure = 0
    target: Figure
    direction: Direction = "increase"
    start: AwareDatetime
    deadline: AwareDatetime
    phasing: dict[MonthKey, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None
    cost_per_outcome: Money | None = None
    owner: ShortText = ""
    guardrails: Guardrails | None = None

    @model_validator(mode="after")
    def _check_invariants(self) -> ObjectiveSpec:
        if self.deadline <= self.start:
            raise ValueError("deadline must be after start")
        if self.target == self.baseline:
            raise ValueError("target must differ from baseline")
        if self.direction == "increase" and self.target < self.baseline:
            raise ValueError("target below baseline for an 'increase' objective")
        if self.direction == "decrease" and self.target > self.baseline:
            raise ValueError("target above baseline for a 'decrease' objective")
        if self.phasing is not None and sum(self.phasing.values()) <= 0:
            raise ValueError("phasing weights must add up to more than zero")
        return self


class PeriodPlan(Frozen):
    period_id: Slug
    start: AwareDatetime
    end: AwareDatetime
    budget: Money
    channel_mix: dict[Slug, Share]
    """Planned share of the budget per channel, in percent; sums to 100."""

    @model_validator(mode="after")
    def _check_invariants(self) -> PeriodPlan:
        if self.end <= self.start:
            raise ValueError("period end must be after its start")
        if self.channel_mix and abs(sum(self.channel_mix.values()) - 100) > 0.01:
            raise ValueError(
                f"channel mix must sum to 100 %, not {sum(self.channel_mix.values()):g} %"
            )
        return self


CampaignStatus = Literal["planned", "live", "paused", "ended"]
Severity = Literal["info", "warning", "critical"]
DriftKind = Literal[
    "objective_off_pace",
    "untethered_spend",
    "idle_objective",
    "channel_mix_drift",
    "audience_mismatch",
    "inefficient_tactic",
    "budget_overrun",
    "stale_data",
]
DRIFT_KINDS: tuple[str, ...] = DriftKind.__args__  # type: ignore[attr-defined]
