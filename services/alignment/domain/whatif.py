"""What if budget moved between channels or campaigns (docs/design.md, "What-if").

Pure: a `Situation` (`whatif_situation`) and some `Shift`s (`whatif_shifts`) in, each affected
objective's forecast before and after out, with the assumptions stated; no clock, no store, no
I/O. A shift's spend is spread over the campaigns it moves in, each campaign's outcome changes
as the yield model says (`whatif_yield`), and the forecasts are
`truenorth.alignment.domain.forecast`'s, given the modelled effect as its `shift`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from truenorth.alignment.domain.forecast import Forecast, bounds_of, forecast
from truenorth.alignment.domain.whatif_shifts import End, Shift, check
from truenorth.alignment.domain.whatif_situation import DAY_SECONDS, ObjectiveRecord, Situation
from truenorth.alignment.domain.whatif_yield import metric_change, ratio_change


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
