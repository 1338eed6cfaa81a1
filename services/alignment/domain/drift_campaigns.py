"""Drifts of one campaign: audience mismatch, inefficiency, budget overrun, stale data."""

from __future__ import annotations

import math
from collections.abc import Iterator

from truenorth.alignment.domain.contributions import campaign_outcome
from truenorth.alignment.domain.drift_findings import (
    Context,
    Finding,
    campaign_label,
    iso,
    listing,
    money,
    pct,
)
from truenorth.alignment.domain.entities import CampaignView
from truenorth.alignment.domain.progress import time_phased_budget
from truenorth.alignment.domain.timeunits import MICROS_PER_DAY, MICROS_PER_HOUR
from truenorth.contract.common import Guardrails
from truenorth.contract.thresholds import exceeds

# -- audience_mismatch -----------------------------------------------------------------------


def audience_mismatch(context: Context, campaign: CampaignView) -> Iterator[Finding]:
    if campaign.status != "live":
        return
    workspace = context.workspace
    served: dict[str, list[str]] = {}
    for objective_id in workspace.active_objective_ids(campaign):
        served.setdefault(workspace.objectives[objective_id].strategy_id, []).append(objective_id)
    for strategy_id in sorted(served):
        strategy = workspace.strategies.get(strategy_id)
        if strategy is None or not strategy.target_segments:
            continue
        if campaign.segment in strategy.target_segments:
            continue
        objectives = served[strategy_id]
        yield Finding(
            workspace=context.name,
            kind="audience_mismatch",
            subject=f"{campaign.campaign_id}:{strategy_id}",
            severity="warning",
            explanation=(
                f"Live campaign {campaign_label(campaign)} targets segment "
                f"'{campaign.segment}', which is not among strategy "
                f"{strategy.name or strategy_id}'s target segments "
                f"({', '.join(strategy.target_segments)}); it serves "
                f"{listing([context.objective_label(o) for o in objectives])}; to resolve: "
                "retarget it to a target segment, or add the segment to the strategy"
            ),
            figures={"target_segments": float(len(strategy.target_segments))},
            strategy_id=strategy_id,
            objective_id=objectives[0],
            campaign_ids=(campaign.campaign_id,),
            channel=campaign.channel or None,
        )


# -- inefficient_tactic ----------------------------------------------------------------------


def inefficient_tactic(context: Context, campaign: CampaignView) -> Iterator[Finding]:
    if campaign.status not in ("live", "paused") or not campaign.launched:
        return
    workspace = context.workspace
    for objective_id in workspace.active_objective_ids(campaign):
        objective = workspace.objectives[objective_id]
        spec = objective.spec
        if spec is None or spec.aggregation != "sum" or spec.direction != "increase":
            continue
        guardrails = context.workspace.effective_guardrails(objective)
        spend = context.spend(campaign, (objective.start, objective.deadline))
        outcome = campaign_outcome(campaign.campaign_id, spec, context.facts)
        figures = {"spend": spend, "outcome": outcome}
        text = _inefficiency_text(
            context,
            campaign,
            objective_id,
            spec.kpi,
            guardrails,
            spec.cost_per_outcome,
            spend,
            outcome,
            figures,
        )
        if text is None:
            continue
        yield Finding(
            workspace=context.name,
            kind="inefficient_tactic",
            subject=f"{campaign.campaign_id}:{objective_id}",
            severity="warning",
            explanation=text,
            figures=figures,
            strategy_id=objective.strategy_id,
            objective_id=objective_id,
            campaign_ids=(campaign.campaign_id,),
            channel=campaign.channel or None,
        )


def _inefficiency_text(
    context: Context,
    campaign: CampaignView,
    objective_id: str,
    kpi: str,
    guardrails: Guardrails,
    planned: float | None,
    spend: float,
    outcome: float,
    figures: dict[str, float],
) -> str | None:
    label, objective = campaign_label(campaign), context.objective_label(objective_id)
    multiple = guardrails.cost_per_outcome_multiple or 2.0
    if planned and outcome > 0 and exceeds(spend / outcome, multiple * planned):
        actual = spend / outcome
        figures |= {
            "cost_per_outcome": actual,
            "planned_cost_per_outcome": planned,
            "multiple": actual / planned,
            "limit_multiple": multiple,
        }
        return (
            f"Campaign {label} costs ${actual:,.2f} per {kpi} for {objective}, "
            f"{actual / planned:.1f}× the planned ${planned:,.2f} (limit {multiple:g}×); "
            "to resolve: move its budget to linked campaigns that cost less per outcome, or "
            "revise the planned cost"
        )
    zero_spend = guardrails.zero_outcome_spend
    zero_spend = 1000.0 if zero_spend is None else zero_spend
    zero_days = guardrails.zero_outcome_days or 14.0
    days = (context.at - campaign.start) / MICROS_PER_DAY
    if outcome <= 0 and spend > zero_spend and days > zero_days:
        figures |= {"days_running": math.floor(days), "limit_spend": zero_spend}
        return (
            f"Campaign {label} spent {money(spend)} over {days:.0f} days with zero {kpi} for "
            f"{objective} (limits {money(zero_spend)} and {zero_days:g} days); to resolve: "
            "check that its outcomes are reported, or stop it"
        )
    return None


# -- budget_overrun --------------------------------------------------------------------------


def campaign_budget_overrun(context: Context, campaign: CampaignView) -> Iterator[Finding]:
    if campaign.status not in ("live", "paused") or not campaign.launched:
        return
    if campaign.budget <= 0 or context.at <= campaign.start:
        return
    spend = context.spend(campaign, None)
    planned = time_phased_budget(campaign.budget, campaign.start, campaign.end, context.at)
    limit = context.campaign_guardrails(campaign).budget_overrun_share
    limit = 0.10 if limit is None else limit
    subject = context.drift_id("budget_overrun", f"campaign:{campaign.campaign_id}")
    over_share = spend / planned - 1 if planned > 0 else 0.0
    guardrails = context.campaign_guardrails(campaign)
    if planned <= 0 or not context.drifting(subject, over_share, limit, "above", guardrails):
        return
    over = spend / planned - 1
    elapsed = planned / campaign.budget
    served = [context.objective_label(o) for o in context.workspace.active_objective_ids(campaign)]
    yield Finding(
        workspace=context.name,
        kind="budget_overrun",
        subject=f"campaign:{campaign.campaign_id}",
        severity="critical" if spend > campaign.budget else "warning",
        explanation=(
            f"Campaign {campaign_label(campaign)} has spent {money(spend)}, {pct(over)} "
            f"ahead of its time-phased budget ({money(planned)} of {money(campaign.budget)} "
            f"by now, {pct(elapsed)} of its flight; limit {pct(limit)})"
            + (f"; it serves {listing(served)}" if served else "")
            + "; to resolve: slow its spend to the plan, or raise its budget"
        ),
        figures={
            "spend": spend,
            "planned_to_date": planned,
            "budget": campaign.budget,
            "overrun_share": over,
        },
        strategy_id=context.strategy_of(campaign),
        objective_id=(context.workspace.active_objective_ids(campaign) or (None,))[0],
        campaign_ids=(campaign.campaign_id,),
        channel=campaign.channel or None,
    )


# -- stale_data ------------------------------------------------------------------------------


def stale_data(context: Context, campaign: CampaignView) -> Iterator[Finding]:
    """Measured by the period the data covers, not by when it was uploaded: rows uploaded
    now for days that ended long ago do not make a campaign fresh. The upload lag (from a
    period's end to its recording) is reported beside it."""
    if campaign.status != "live":
        return
    went_live = campaign.went_live if campaign.went_live is not None else campaign.start
    last_report, covered = context.facts.reports().get(campaign.campaign_id, (None, None))
    reference = max(went_live, covered or went_live)
    hours = (context.at - reference) / MICROS_PER_HOUR
    limit = context.campaign_guardrails(campaign).stale_hours or 24.0
    if not exceeds(hours, limit):
        return
    figures = {"hours_silent": math.floor(hours), "limit_hours": limit}
    if covered is not None and covered >= went_live and last_report is not None:
        lag = max(0.0, (last_report - covered) / MICROS_PER_HOUR)
        figures["upload_lag_hours"] = math.floor(lag)
        since = (
            f"its data covers up to {iso(covered)} (last uploaded {iso(last_report)}, "
            f"{lag:.0f} h after that period ended)"
        )
    else:
        since = f"no data since it went live {iso(went_live)}"
    served = [context.objective_label(o) for o in context.workspace.active_objective_ids(campaign)]
    yield Finding(
        workspace=context.name,
        kind="stale_data",
        subject=f"campaign:{campaign.campaign_id}",
        severity="warning",
        explanation=(
            f"Live campaign {campaign_label(campaign)} has no metrics for the last "
            f"{hours:.0f} h (limit {limit:g} h); {since}; "
            + (f"it serves {listing(served)}" if served else "it serves no active objective")
            + "; to resolve: check the sync that reports it, or pause the campaign"
        ),
        figures=figures,
        strategy_id=context.strategy_of(campaign),
        objective_id=(context.workspace.active_objective_ids(campaign) or (None,))[0],
        campaign_ids=(campaign.campaign_id,),
        channel=campaign.channel or None,
    )
