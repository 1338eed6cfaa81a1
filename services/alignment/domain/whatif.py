"""What if budget moved between channels or campaigns (docs/design.md, "What-if").

Pure: a `Situation` (what each campaign spent and yielded over the trailing window, the
period's plan, each objective's daily series) and some `Shift`s in, each affected objective's
forecast before and after out; no clock, no store, no I/O. The forecasts are
`truenorth.alignment.domain.forecast`'s, given the modelled effect as its `shift`.

The model, per campaign c with trailing-window spend S and outcome O of a metric over W days:
its daily spend s = S / W, its yield y = O / S per dollar, and m its highest daily spend seen
in the window. A day's outcome at spend x is `y·x` for x ≤ m and `y·m·(2·√(x/m) − 1)` above
m: the square-root curve meets the line at m with the same slope, and each further dollar
yields less (returns above the observed range are assumed to diminish, not extrapolated).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from truenorth.alignment.domain.forecast import Forecast, bounds_of, forecast
from truenorth.contract.common import SPEND_METRIC, ObjectiveSpec, PeriodPlan

EndKind = Literal["channel", "campaign"]
DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class End:
    """One side of a shift: a channel or a campaign."""

    kind: EndKind
    ident: str

    def __str__(self) -> str:
        return f"{self.kind} {self.ident}"


@dataclass(frozen=True, slots=True)
class Shift:
    source: End
    target: End
    amount: float


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
    spec: ObjectiveSpec
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


@dataclass(frozen=True, slots=True)
class Problem:
    """A shift the model refuses, with the request field it names."""

    field: str
    message: str
    type: str


class ShiftRefused(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Outlook:
    forecast: float
    low: float
    high: float
    attainment: float
    p_hit: float

    @classmethod
    def of(cls, fc: Forecast) -> Outlook:
        return cls(fc.value, fc.low, fc.high, fc.attainment, fc.hit_probability)


@dataclass(frozen=True, slots=True)
class ObjectiveEffect:
    objective_id: str
    name: str
    kpi: str
    aggregation: str
    before: Outlook
    after: Outlook
    modelled: bool
    """False for a level KPI: the shift's effect on it is not modelled (after = before)."""


@dataclass(frozen=True)
class WhatIf:
    assumptions: tuple[str, ...]
    objectives: tuple[ObjectiveEffect, ...]


# -- the response curve ----------------------------------------------------------------------


def daily_outcome(spend: float, per_dollar: float, peak: float) -> float:
    """A day's outcome at `spend`: linear up to the highest observed daily spend `peak`,
    square-root above it (continuous, same marginal yield at the peak, concave beyond)."""
    if spend <= 0:
        return 0.0
    if peak <= 0 or spend <= peak:
        return per_dollar * spend
    return per_dollar * peak * (2.0 * math.sqrt(spend / peak) - 1.0)


def metric_change(campaign: CampaignRecord, metric: str, daily_delta: float, days: float) -> float:
    """How much more of `metric` the campaign yields per day when its daily spend changes by
    `daily_delta` (spend itself moves one for one)."""
    rate = campaign.spend / days if days > 0 else 0.0
    after = max(0.0, rate + daily_delta)
    if metric == SPEND_METRIC:
        return after - rate
    if campaign.spend <= 0:
        return 0.0
    per_dollar = campaign.outcomes.get(metric, 0.0) / campaign.spend
    peak = max(campaign.peak_daily_spend, rate)
    return daily_outcome(after, per_dollar, peak) - daily_outcome(rate, per_dollar, peak)


# -- validation ------------------------------------------------------------------------------


def check(situation: Situation, shifts: Sequence[Shift], start: datetime) -> None:
    """ShiftRefused naming each field: an unknown campaign, a channel the strategy does not
    allow, a non-positive amount, more than the source's remaining planned budget, a start
    outside the period."""
    problems: list[Problem] = []
    period = situation.period
    if period is None:
        problems.append(
            Problem("period_id", f"strategy {situation.strategy_id!r} has no such period", "period")
        )
    elif start >= period.end:
        problems.append(
            Problem("from", f"{start.date()} is after period {period.period_id}'s end", "period")
        )
    taken: dict[End, float] = {}
    for index, shift in enumerate(shifts):
        here = f"shifts[{index}]"
        problems.extend(_end_problems(situation, shift.source, f"{here}.from", receiving=False))
        problems.extend(_end_problems(situation, shift.target, f"{here}.to", receiving=True))
        if shift.source == shift.target:
            problems.append(Problem(f"{here}.to", "is the same as from", "same"))
        if not (shift.amount > 0 and math.isfinite(shift.amount)):
            problems.append(Problem(f"{here}.amount", "must be a positive amount", "amount"))
            continue
        taken[shift.source] = taken.get(shift.source, 0.0) + shift.amount
        available = remaining(situation, shift.source)
        if available is not None and taken[shift.source] > available + 1e-6:
            problems.append(
                Problem(
                    f"{here}.amount",
                    f"{taken[shift.source]:,.2f} is more than {shift.source}'s remaining "
                    f"planned budget ({available:,.2f})",
                    "over_budget",
                )
            )
    if problems:
        raise ShiftRefused(problems)


def _end_problems(situation: Situation, end: End, where: str, *, receiving: bool) -> list[Problem]:
    allowed = situation.allowed_channels
    if end.kind == "campaign":
        campaign = situation.campaigns.get(end.ident)
        if campaign is None:
            whose = (
                f"is not a campaign of strategy {situation.strategy_id!r}"
                if end.ident in situation.known_campaigns
                else "is not a known campaign"
            )
            return [Problem(f"{where}.campaign", f"{end.ident!r} {whose}", "unknown_campaign")]
        if receiving and allowed and campaign.channel not in allowed:
            return [
                Problem(f"{where}.campaign", _not_allowed(situation, campaign.channel), "channel")
            ]
        return []
    if receiving and allowed and end.ident not in allowed:
        return [Problem(f"{where}.channel", _not_allowed(situation, end.ident), "channel")]
    return []


def _not_allowed(situation: Situation, channel: str) -> str:
    return (
        f"channel {channel!r} is not allowed by strategy {situation.strategy_id!r} "
        f"(allowed channels: {', '.join(situation.allowed_channels)})"
    )


def remaining(situation: Situation, end: End) -> float | None:
    """What a source can give: a channel's planned share of the period budget less its spend
    in the period, a campaign's budget less its spend; None without a period."""
    if end.kind == "campaign":
        campaign = situation.campaigns.get(end.ident)
        return None if campaign is None else max(0.0, campaign.remaining_budget)
    period = situation.period
    if period is None:
        return None
    planned = period.budget * period.channel_mix.get(end.ident, 0.0) / 100
    return max(0.0, planned - situation.period_spend_by_channel.get(end.ident, 0.0))


# -- the effect ------------------------------------------------------------------------------


def what_if(situation: Situation, shifts: Sequence[Shift], start: datetime | None = None) -> WhatIf:
    """Every objective linked to a campaign whose spend the shifts change, before and after
    (ShiftRefused when a shift is not allowed)."""
    begins = max(start or situation.now, situation.now)
    check(situation, shifts, begins)
    assert situation.period is not None
    ends = situation.period.end
    days = (ends - begins).total_seconds() / DAY_SECONDS
    deltas, notes = daily_deltas(situation, shifts, days)
    touched = {o for c, d in deltas.items() if d for o in situation.campaigns[c].objective_ids}
    effects = tuple(
        effect_on(situation, objective, deltas, begins, ends)
        for objective in situation.objectives
        if objective.objective_id in touched
    )
    kinds = {e.aggregation for e in effects}
    return WhatIf(
        assumptions=assumptions(situation, begins, ends, kinds, notes), objectives=effects
    )


def daily_deltas(
    situation: Situation, shifts: Sequence[Shift], days: float
) -> tuple[dict[str, float], list[str]]:
    """campaign_id -> change of its daily spend; and a note per side with nothing observed."""
    deltas: dict[str, float] = {}
    notes: list[str] = []
    for shift in shifts:
        per_day = shift.amount / days if days > 0 else 0.0
        for end, sign in ((shift.source, -1.0), (shift.target, 1.0)):
            shares = _spread(situation, end)
            if not shares:
                notes.append(_nothing_observed(end, sign, situation.window_days))
            for campaign_id, share in shares.items():
                deltas[campaign_id] = deltas.get(campaign_id, 0.0) + sign * per_day * share
    return deltas, notes


def _spread(situation: Situation, end: End) -> dict[str, float]:
    """The campaigns a side's spend moves in, as shares: a campaign itself; a channel's
    campaigns in proportion to their trailing spend (none: nothing observed)."""
    if end.kind == "campaign":
        campaign = situation.campaigns[end.ident]
        return {campaign.campaign_id: 1.0} if campaign.spend > 0 else {}
    spending = [c for c in situation.campaigns_in(end.ident) if c.spend > 0]
    total = sum(c.spend for c in spending)
    return {c.campaign_id: c.spend / total for c in spending}


def _nothing_observed(end: End, sign: float, window: float) -> str:
    if sign < 0:
        return (
            f"{end} spent nothing in the last {window:g} days: moving budget it was not "
            "spending loses no outcome"
        )
    return (
        f"{end} spent nothing in the last {window:g} days, so it has no observed cost per "
        "outcome: budget moved to it is modelled as yielding nothing"
    )


def effect_on(
    situation: Situation,
    objective: ObjectiveRecord,
    deltas: Mapping[str, float],
    begins: datetime,
    ends: datetime,
) -> ObjectiveEffect:
    spec = objective.spec
    now = situation.now
    overlap = _days(max(begins, now), min(ends, spec.deadline))
    days_left = _days(now, spec.deadline)
    linked = [
        situation.campaigns[c]
        for c in sorted(deltas)
        if objective.objective_id in situation.campaigns[c].objective_ids
    ]
    change: float | None = 0.0
    if spec.aggregation == "sum":
        per_day = sum(
            metric_change(c, spec.kpi, deltas[c.campaign_id], situation.window_days) for c in linked
        )
        change = per_day * overlap
    elif spec.aggregation == "ratio":
        level = ratio_change(situation, objective, deltas)
        change = None if level is None else level * (overlap / days_left if days_left else 0.0)
    else:
        change = None

    def outlook(shift: float) -> Forecast:
        return forecast(
            objective.series,
            kind=spec.aggregation,
            target=spec.target,
            baseline=spec.baseline,
            direction=spec.direction,
            now=now,
            deadline=spec.deadline,
            window_days=objective.window_days,
            bounds=bounds_of(spec),
            so_far=objective.so_far if spec.aggregation == "sum" else None,
            shift=shift,
        )

    before = outlook(0.0)
    after = before if change is None else outlook(change)
    return ObjectiveEffect(
        objective_id=objective.objective_id,
        name=spec.name,
        kpi=spec.kpi,
        aggregation=spec.aggregation,
        before=Outlook.of(before),
        after=Outlook.of(after),
        modelled=change is not None,
    )


def ratio_change(
    situation: Situation, objective: ObjectiveRecord, deltas: Mapping[str, float]
) -> float | None:
    """The change of the trailing window's Σ numerator / Σ denominator over the objective's
    campaigns had they spent at the shifted rates; None with no denominator either way."""
    spec = objective.spec
    assert spec.numerator is not None and spec.denominator is not None
    window = situation.window_days
    mine = [c for c in situation.campaigns.values() if objective.objective_id in c.objective_ids]
    numerator = sum(c.outcomes.get(spec.numerator, 0.0) for c in mine)
    denominator = sum(c.outcomes.get(spec.denominator, 0.0) for c in mine)
    moved_num = numerator + window * sum(
        metric_change(c, spec.numerator, deltas.get(c.campaign_id, 0.0), window) for c in mine
    )
    moved_den = denominator + window * sum(
        metric_change(c, spec.denominator, deltas.get(c.campaign_id, 0.0), window) for c in mine
    )
    if denominator <= 0 or moved_den <= 0:
        return None
    return moved_num / moved_den - numerator / denominator


def _days(low: datetime, high: datetime) -> float:
    return max(0.0, (high - low).total_seconds() / DAY_SECONDS)


def assumptions(
    situation: Situation, begins: datetime, ends: datetime, kinds: set[str], notes: Sequence[str]
) -> tuple[str, ...]:
    window = situation.window_days
    stated = [
        f"Each campaign's outcome per dollar is what it yielded over the last {window:g} days "
        f"(Σ outcome / Σ spend) as of {situation.now:%Y-%m-%d %H:%M} UTC.",
        f"Moved budget is spent evenly per day from {begins:%Y-%m-%d} to the period's end "
        f"{ends - timedelta(microseconds=1):%Y-%m-%d}; a channel's share is spread over its "
        "campaigns in proportion to their trailing spend.",
        "Up to a campaign's highest observed daily spend m, outcome is proportional to spend; "
        "above it returns diminish: a day's outcome at spend x is y·m·(2·√(x/m) − 1) "
        "(square root, continuous with the observed yield y at m, each further dollar "
        "yielding less), never a straight-line extrapolation.",
        "Spend taken from a campaign loses outcome at its observed yield, and never below "
        "zero spend.",
    ]
    if "sum" in kinds:
        stated.append(
            "Counts (sum KPIs): the run-rate forecast gains the modelled outcome of the moved "
            "days up to the deadline; its 80 % interval keeps its width."
        )
    if "ratio" in kinds:
        stated.append(
            "Ratios (CAC, ROAS…): Σ numerator / Σ denominator of the trailing window is "
            "recomputed at the shifted spend (spend moves one for one), and the trend's level "
            "moves by that change times the share of the remaining days the shift covers."
        )
    if "latest" in kinds:
        stated.append(
            "Levels (latest KPIs such as awareness) are not modelled: no cost per outcome "
            "links spend to a level, so their forecast is shown unchanged."
        )
    return (*stated, *notes)
