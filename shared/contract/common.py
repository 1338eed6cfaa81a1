"""Value types shared by several contexts' events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from truenorth.contract.envelope import Frozen, ShortText, Slug
from truenorth.timeparse import DayEnd, DayStart

Kpi = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
"""leads, revenue, conversions, signups, awareness_pct, ... or a custom snake_case name."""

Aggregation = Literal["sum", "latest", "ratio"]
"""How a KPI is read over a window: `sum` adds its observations (counts: leads, signups,
revenue), `latest` takes the last level reported (awareness %, share), `ratio` divides the sum
of one reported metric by the sum of another (CAC = spend / new_customers, conversion rate =
conversions / visitors, ROAS = revenue / spend). A level or a ratio is never summed."""
Direction = Literal["increase", "decrease"]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Figure = Annotated[float, Field(ge=-1e15, le=1e15, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
"""A percentage share, 0–100."""
MonthKey = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]

SPEND_METRIC = "spend"
"""Spend reaches truenorth as metric observations with metric == "spend" (currency units)."""


class Guardrails(Frozen):
    """Thresholds of docs/design.md#guardrails-against-noise. Every field optional so objectives
    can override a subset."""

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
    warmup_window_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="No warning-or-higher pace or mix drift before this share of the window "
        "has passed (info is allowed)",
    )
    warmup_min_spend: Money | None = Field(
        default=None, description="… nor before this much spend has been reported"
    )
    warmup_min_observations: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="… nor before this many observations of the KPI have been reported",
    )
    mix_min_period_spend: Money | None = Field(
        default=None, description="Channel shares are not judged before the period spent this"
    )
    resolve_hysteresis: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="A drift resolves only once its figure is back inside the threshold by "
        "this fraction of the threshold (0.2: a 10-point tolerance resolves below 8 points)",
    )
    time_tolerance_days: float | None = Field(
        default=None,
        ge=0,
        le=366,
        description="How far in the future a fact may be dated (clock skew, time zones) "
        "before it is refused",
    )

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
    warmup_window_share=0.10,
    warmup_min_spend=500,
    warmup_min_observations=3,
    mix_min_period_spend=1000,
    resolve_hysteresis=0.2,
    time_tolerance_days=1,
)


class ObjectiveSpec(Frozen):
    objective_id: Slug
    name: ShortText
    kpi: Kpi
    aggregation: Aggregation = "sum"
    numerator: Kpi | None = None
    """For a ratio KPI: the reported metric summed above the line (spend for a CAC)."""
    denominator: Kpi | None = None
    """For a ratio KPI: the reported metric summed below the line (new_customers for a CAC)."""
    min_value: Figure | None = None
    """The lowest value the KPI can physically take (forecasts are bounded by it); absent:
    0 for `latest` and `ratio` KPIs."""
    max_value: Figure | None = None
    """The highest value the KPI can take (1 for a rate, 100 for a percentage); absent: none."""
    baseline: Figure = 0
    target: Figure
    direction: Direction = "increase"
    start: DayStart
    deadline: DayEnd
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
        for problem in kpi_kind_problems(
            self.aggregation, self.numerator, self.denominator, self.min_value, self.max_value
        ):
            raise ValueError(problem[1])
        return self

    @property
    def lower_bound(self) -> float | None:
        return kpi_floor(self.aggregation, self.min_value)


def kpi_floor(aggregation: str, min_value: float | None) -> float | None:
    """The KPI's physical floor: `min_value`, else 0 for levels and ratios."""
    if min_value is not None:
        return min_value
    return None if aggregation == "sum" else 0.0


def kpi_kind_problems(
    aggregation: str,
    numerator: str | None,
    denominator: str | None,
    min_value: float | None = None,
    max_value: float | None = None,
) -> list[tuple[str, str]]:
    """(field, message) for every rule of the KPI kinds a spec breaks: a ratio names its
    numerator and denominator (two different metrics), the other kinds name neither, and
    the bounds are ordered."""
    problems: list[tuple[str, str]] = []
    if aggregation == "ratio":
        if numerator is None:
            problems.append(("numerator", "a ratio KPI names its numerator metric (e.g. spend)"))
        if denominator is None:
            problems.append(
                ("denominator", "a ratio KPI names its denominator metric (e.g. new_customers)")
            )
        if numerator is not None and numerator == denominator:
            problems.append(("denominator", "numerator and denominator must be different metrics"))
    else:
        for name, value in (("numerator", numerator), ("denominator", denominator)):
            if value is not None:
                problems.append(
                    (name, f"only a ratio KPI has a {name} (aggregation is {aggregation!r})")
                )
    if min_value is not None and max_value is not None and max_value <= min_value:
        problems.append(("max_value", f"max_value must be above min_value ({min_value:g})"))
    return problems


class PeriodPlan(Frozen):
    period_id: Slug
    start: DayStart
    end: DayEnd
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
