"""Drifts of objectives: off pace, idle."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from truenorth.alignment.domain.drift_findings import (
    Context,
    Finding,
    listing,
    num,
    pct,
)
from truenorth.alignment.domain.snapshot import (
    CampaignContribution,
    ObjectiveSnapshot,
)
from truenorth.alignment.domain.timeunits import MICROS_PER_DAY

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
        if objective.status not in _STATUS_WORDS or objective.pace is None:
            continue
        laggards = sorted(
            (c for c in objective.campaigns if c.outcome_per_dollar is not None),
            key=lambda c: (c.outcome_per_dollar or 0.0, c.campaign_id),
        )[:2]
        yield Finding(
            workspace=context.name,
            kind="objective_off_pace",
            subject=objective.objective_id,
            severity="warning" if objective.status == "at_risk" else "critical",
            explanation=_off_pace_text(objective, laggards),
            figures={
                "progress": objective.progress,
                "expected": objective.expected,
                "pace": objective.pace,
                "actual": objective.actual,
                "target": objective.target,
                "forecast_attainment": objective.forecast_attainment,
            },
            strategy_id=objective.strategy_id,
            objective_id=objective.objective_id,
            campaign_ids=tuple(c.campaign_id for c in laggards),
        )


def _off_pace_text(objective: ObjectiveSnapshot, laggards: list[CampaignContribution]) -> str:
    head = (
        f"{objective.name}: {pct(objective.progress)} done at {pct(objective.expected)} of "
        f"time (pace {objective.pace:.2f}, {_STATUS_WORDS[objective.status]})"
    )
    if laggards:
        verb = "are" if len(laggards) > 1 else "is"
        names = [f"{c.campaign_id} ({num(c.outcome_per_dollar or 0.0)}/$)" for c in laggards]
        tail = (
            f"{_TWO_WORDS[len(laggards)]} with the lowest {objective.kpi} per dollar {verb} "
            f"{listing(names)}"
        )
    elif objective.campaigns:
        tail = f"none of its {len(objective.campaigns)} linked campaigns has recorded spend"
    else:
        tail = "no campaign is linked to it"
    forecast = f"forecast at deadline: {pct(objective.forecast_attainment)} of target"
    return f"{head}; {tail}; {forecast}"


# -- idle_objective --------------------------------------------------------------------------


def idle_objectives(context: Context) -> Iterator[Finding]:
    workspace, at = context.workspace, context.at
    for objective_id in sorted(workspace.objectives):
        objective = workspace.objectives[objective_id]
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
            tail = f"linked campaigns: {states}"
        else:
            tail = "no campaign is linked to it"
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
