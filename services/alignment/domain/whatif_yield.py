"""The what-if yield model (docs/design.md, "What-if"): how much a campaign's outcome changes
when its daily spend does. Pure.

Per campaign c with trailing-window spend S and outcome O of a metric over W days: its daily
spend s = S / W, its yield y = O / S per dollar, and m its highest daily spend seen in the
window. A day's outcome at spend x is `y·x` for x ≤ m and `y·m·(2·√(x/m) − 1)` above m: the
square-root curve meets the line at m with the same slope, and each further dollar yields less
(returns above the observed range are assumed to diminish, not extrapolated).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from truenorth.alignment.domain.whatif_situation import (
    CampaignRecord,
    ObjectiveRecord,
    Situation,
)
from truenorth.contract.common import SPEND_METRIC


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
