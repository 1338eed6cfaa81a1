"""A campaign's contribution to an objective: its spend and its KPI outcome over the
objective's window, as the read API, the page and the review show it beside the objective."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from truenorth.alignment.domain.entities import CampaignView, SpecView
from truenorth.alignment.domain.progress import cost_per_outcome, outcome_per_dollar
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.facts import Facts, Window
from truenorth.contract.common import SPEND_METRIC


@dataclass(frozen=True, slots=True)
class CampaignContribution:
    """A campaign linked to an objective: its spend and KPI outcome over the objective's
    window."""

    campaign_id: str
    name: str
    channel: str
    segment: str
    status: str
    spend: float
    outcome: float
    outcome_per_dollar: float | None
    cost_per_outcome: float | None
    weight: float | None = None
    """For a ratio KPI: the campaign's share of the objective's denominator (its own ratio is
    `outcome`); None for counts and levels."""


def objective_window(spec: SpecView) -> tuple[int, int]:
    return to_micros(spec.start), to_micros(spec.deadline)


def ratio_value(spec: SpecView, facts: Facts, campaign_ids: Sequence[str]) -> float:
    """Σ numerator / Σ denominator over the objective's window; the baseline before any
    denominator is reported (a ratio is never summed)."""
    assert spec.numerator is not None and spec.denominator is not None
    window = objective_window(spec)
    denominator = facts.total(campaign_ids, spec.denominator, window)
    if denominator <= 0:
        return spec.baseline
    return facts.total(campaign_ids, spec.numerator, window) / denominator


def campaign_outcome(
    campaign_id: str, spec: SpecView, facts: Facts, window: Window | None = None
) -> float:
    """The campaign's contribution to the objective's KPI over `window` (default: the
    objective's): its total for counts, its latest level for levels, its own ratio for ratios
    (0 when it has none)."""
    window = window or objective_window(spec)
    if spec.aggregation == "sum":
        return facts.sums(spec.kpi, window).get(campaign_id, 0.0)
    if spec.aggregation == "ratio":
        assert spec.numerator is not None and spec.denominator is not None
        denominator = facts.sums(spec.denominator, window).get(campaign_id, 0.0)
        numerator = facts.sums(spec.numerator, window).get(campaign_id, 0.0)
        return numerator / denominator if denominator > 0 else 0.0
    latest = facts.latest(spec.kpi, window).get(campaign_id)
    return 0.0 if latest is None else latest[2]


def contributions_of(
    linked: Sequence[CampaignView], spec: SpecView, facts: Facts
) -> tuple[CampaignContribution, ...]:
    window = objective_window(spec)
    spend = facts.sums(SPEND_METRIC, window)
    weights: dict[str, float] = {}
    if spec.aggregation == "ratio":
        assert spec.denominator is not None
        denominators = facts.sums(spec.denominator, window)
        total = sum(denominators.get(c.campaign_id, 0.0) for c in linked)
        weights = {
            c.campaign_id: denominators.get(c.campaign_id, 0.0) / total if total > 0 else 0.0
            for c in linked
        }
    contributions = []
    for campaign in linked:
        spent = spend.get(campaign.campaign_id, 0.0)
        outcome = campaign_outcome(campaign.campaign_id, spec, facts, window)
        counts = spec.aggregation == "sum"
        contributions.append(
            CampaignContribution(
                campaign_id=campaign.campaign_id,
                name=campaign.name,
                channel=campaign.channel,
                segment=campaign.segment,
                status=campaign.status,
                spend=spent,
                outcome=outcome,
                outcome_per_dollar=outcome_per_dollar(outcome, spent) if counts else None,
                cost_per_outcome=cost_per_outcome(spent, outcome) if counts else None,
                weight=weights.get(campaign.campaign_id) if weights else None,
            )
        )
    return tuple(contributions)
