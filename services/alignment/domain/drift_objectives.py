"""Drifts of objectives: off pace, idle."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from truenorth.alignment.domain.contributions import CampaignContribution
from truenorth.alignment.domain.drift_findings import (
    Context,
    Finding,
    listing,
    num,
    pct,
)
from truenorth.alignment.domain.entities import ObjectiveView
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.domain.timeunits import MICROS_PER_DAY, to_micros
from truenorth.contract.common import Guardrails, Severity
from truenorth.contract.thresholds import during_warmup, warmed_up

# -- objective_off_pace ------------------------------------------------------------------------

_STATUS_WORDS = {"at_risk": "at risk", "off_track": "off track"}
_TWO_WORDS = {
    1: "the linked campaign",
    2: "the two linked campaigns",
    3: "the three linked campaigns",
}


def objective_off_pace(
    context: Context, objectives: Iterable[ObjectiveSnapshot]
) -> Iterator[Finding]:
    for objective in objectives:
        if objective.pace is None:
            continue
        view = context.workspace.objectives[objective.objective_id]
        guardrails = context.workspace.effective_guardrails(view)
        status = _held_status(context, objective, guardrails)
        if status not in _STATUS_WORDS:
            continue
        laggards = lagging_campaigns(context, objective)[:2]
        severity: Severity = "warning" if status == "at_risk" else "critical"
        yield Finding(
            workspace=context.name,
            kind="objective_off_pace",
            subject=objective.objective_id,
            severity=during_warmup(severity, _warmed_up(context, objective, guardrails)),
            explanation=_off_pace_text(context, objective, laggards, status),
            figures={
                "progress": objective.progress,
                "expected": objective.expected,
                "pace": objective.pace,
                "actual": objective.actual,
                "target": objective.target,
                "forecast_attainment": objective.forecast_attainment,
                "hit_probability": objective.hit_probability,
            },
            strategy_id=objective.strategy_id,
            objective_id=objective.objective_id,
            campaign_ids=tuple(c.campaign_id for c, _ in laggards),
        )


def _held_status(context: Context, objective: ObjectiveSnapshot, guardrails: Guardrails) -> str:
    """The objective's status, except that an off-pace drift already open stays open (at
    risk) until the pace is clearly back: hysteresis, so it does not flap at 0.95."""
    if objective.status != "on_track" or objective.pace is None:
        return objective.status
    subject = context.drift_id("objective_off_pace", objective.objective_id)
    on_track = guardrails.on_track_pace or 0.95
    still = context.drifting(subject, objective.pace, on_track, "below", guardrails, nominal=1.0)
    return "at_risk" if still else objective.status


def _warmed_up(context: Context, objective: ObjectiveSnapshot, guardrails: Guardrails) -> bool:
    """Enough of the window has passed and enough evidence exists to judge the pace above
    `info` (before any KPI reading, "0 % done" is no evidence of anything)."""
    start, deadline = to_micros(objective.start), to_micros(objective.deadline)
    elapsed = (context.at - start) / (deadline - start) if deadline > start else 1.0
    linked = [c.campaign_id for c in objective.contributions]
    view = context.workspace.objectives[objective.objective_id]
    spec = view.spec
    assert spec is not None
    metric = spec.denominator if spec.aggregation == "ratio" and spec.denominator else spec.kpi
    readings = context.facts.readings(linked, metric, (start, deadline))
    return warmed_up(
        elapsed_share=elapsed, spend=objective.spend, observations=readings, guardrails=guardrails
    )


def lagging_campaigns(
    context: Context, objective: ObjectiveSnapshot
) -> list[tuple[CampaignContribution, float]]:
    """Linked campaigns behind their expected contribution by now, most behind first, with
    the shortfall in KPI units. A campaign's expected contribution is the progress expected by
    now times its share of the linked campaigns' budgets (equal shares without budgets); one
    that is ahead of it is never named. Levels (`latest`) have no share: a campaign lags when
    its own level is on the wrong side of the target."""
    contributions = list(objective.contributions)
    if not contributions:
        return []
    if objective.aggregation != "sum":
        worse = [
            (c, abs(objective.target - c.outcome))
            for c in contributions
            if c.outcome and (c.outcome < objective.target) == (objective.direction == "increase")
        ]
        return sorted(worse, key=lambda item: (-item[1], item[0].campaign_id))
    budgets = [context.workspace.campaigns[c.campaign_id].budget for c in contributions]
    total = sum(budgets)
    expected_total = (objective.target - objective.baseline) * objective.expected
    lagging = []
    for contribution, budget in zip(contributions, budgets, strict=True):
        share = budget / total if total > 0 else 1 / len(contributions)
        shortfall = expected_total * share - contribution.outcome
        if objective.direction == "decrease":
            shortfall = -shortfall
        if shortfall > 0:
            lagging.append((contribution, shortfall))
    return sorted(lagging, key=lambda item: (-item[1], item[0].campaign_id))


def _off_pace_text(
    context: Context,
    objective: ObjectiveSnapshot,
    laggards: list[tuple[CampaignContribution, float]],
    status: str,
) -> str:
    head = (
        f"{objective.name}: {pct(objective.progress)} done at {pct(objective.expected)} of "
        f"time (pace {objective.pace:.2f}, {_STATUS_WORDS[status]})"
    )
    kpi = objective.kpi
    if laggards:
        names = [f"{c.campaign_id} ({num(short)} {kpi} behind its share)" for c, short in laggards]
        tail = "lagging: " + listing(names)
    elif objective.contributions:
        tail = f"none of its {len(objective.contributions)} linked campaigns lags its share"
    else:
        tail = "no campaign is linked to it"
    forecast = (
        f"forecast at deadline: {pct(objective.forecast_attainment)} of target (80 %: "
        f"{pct(objective.forecast_attainment_low)}–{pct(objective.forecast_attainment_high)}, "
        f"P(hit) {objective.hit_probability:.2f})"
    )
    if objective.status_note:
        forecast += f" — {objective.status_note}"
    return f"{head}; {_gap_text(context, objective)}; {tail}; {forecast}; {_remedy(objective)}"


def _gap_text(context: Context, objective: ObjectiveSnapshot) -> str:
    """The gap in units a lead understands."""
    days = max(0.0, (to_micros(objective.deadline) - context.at) / MICROS_PER_DAY)
    required, now = objective.required_rate_per_day, objective.run_rate_per_day
    if objective.aggregation == "sum":
        more = objective.target - objective.actual
        per_day = f": {num(required)}/day against {num(now)}/day now" if required else ""
        return f"needs {num(more)} more {objective.kpi} in {days:.0f} days{per_day}"
    return (
        f"needs {objective.kpi} to move from {num(objective.actual)} to "
        f"{num(objective.target)} in {days:.0f} days"
        + (f" ({num(required)}/day; trend {num(now)}/day)" if required else "")
    )


def _remedy(objective: ObjectiveSnapshot) -> str:
    best = max(
        (c for c in objective.contributions if c.outcome_per_dollar),
        key=lambda c: (c.outcome_per_dollar or 0.0, c.campaign_id),
        default=None,
    )
    scale = (
        f"scale what works ({best.campaign_id} yields {num(best.outcome_per_dollar or 0.0)} "
        f"{objective.kpi} per $) or shift budget from the laggards"
        if best is not None and objective.aggregation == "sum"
        else "change the tactics serving it"
    )
    return f"to resolve: {scale}, or revise the target"


# -- idle_objective --------------------------------------------------------------------------


def idle_objectives(context: Context, objectives: Iterable[ObjectiveView]) -> Iterator[Finding]:
    workspace, at = context.workspace, context.at
    for objective in objectives:
        objective_id = objective.objective_id
        if not objective.active or not objective.start <= at < objective.deadline:
            continue
        linked = workspace.linked_campaigns(objective_id)
        if any(c.status == "live" for c in linked):
            continue
        last_live = max((c.stopped for c in linked if c.stopped is not None), default=None)
        idle_since = max(objective.start, last_live or objective.start)
        idle_days = math.floor((at - idle_since) / MICROS_PER_DAY * 10) / 10
        limit = context.workspace.effective_guardrails(objective).idle_days or 7
        if idle_days <= limit:
            continue
        if linked:
            states = listing([f"{c.campaign_id} ({c.status})" for c in linked])
            tail = f"linked campaigns: {states}; to resolve: resume or launch a campaign for it"
        else:
            tail = "no campaign is linked to it; to resolve: launch or link a campaign to it"
        assert objective.spec is not None
        yield Finding(
            workspace=context.name,
            kind="idle_objective",
            subject=objective_id,
            severity="warning",
            explanation=(
                f"{context.objective_label(objective_id)} has had no live campaign for "
                f"{idle_days:.1f} days (limit {limit:g}); {tail}"
            ),
            figures={"idle_days": math.floor(idle_days), "limit_days": limit},
            strategy_id=objective.strategy_id,
            objective_id=objective_id,
            campaign_ids=tuple(c.campaign_id for c in linked),
        )
