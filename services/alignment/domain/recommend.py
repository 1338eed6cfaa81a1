"""The best channel shift for an off-pace objective (docs/design.md, "What-if").

Pure. Candidates move k × 5 points of the period's channel mix (k = 1, 2, …) from a channel
with planned budget left to another channel the strategy allows: every pair's first step is
run through the what-if model, and every step of the three best pairs. The smallest move
that brings the objective's forecast to its target wins (ties: the higher P(hit)); when none
does, the one with the highest forecast attainment, if it improves on doing nothing. The
recommendation carries the ready revision: the period's plan with the new mix, for the
strategy service's `PUT …/periods/{period_id}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from truenorth.alignment.domain.whatif import (
    ObjectiveEffect,
    Outlook,
    WhatIf,
    daily_deltas,
    effect_on,
    what_if,
)
from truenorth.alignment.domain.whatif_shifts import End, Shift, ShiftRefused, remaining
from truenorth.alignment.domain.whatif_situation import Situation

STEP_POINTS = 5.0
PAIRS = 3
"""(source, target) channel pairs searched in full, the best by their first step."""


@dataclass(frozen=True)
class Recommendation:
    summary: str
    shift: Shift
    points: float
    effect: WhatIf
    mix: dict[str, float]
    """The period's channel mix after the move (percent)."""


def recommend(situation: Situation, objective_id: str) -> Recommendation | None:
    period = situation.period
    objective = next((o for o in situation.objectives if o.objective_id == objective_id), None)
    if period is None or not period.channel_mix or objective is None:
        return None
    if objective.spec.aggregation == "latest":
        return None
    best: tuple[tuple[float, ...], Shift, float] | None = None
    begins, ends = situation.now, period.end
    days = (ends - begins).total_seconds() / 86_400
    if days <= 0:
        return None
    baseline = effect_on(situation, objective, {}, begins, ends).before

    def after(shift: Shift) -> Outlook:
        deltas, _ = daily_deltas(situation, [shift], days)
        return effect_on(situation, objective, deltas, begins, ends).after

    for shift, points in candidates(situation, after):
        outlook = after(shift)
        clears = outlook.attainment >= 1.0
        if not clears and outlook.attainment <= baseline.attainment + 1e-9:
            continue
        # clearing beats not; then the smaller move; then the higher P(hit) and attainment
        rank = (
            (0.0, points, -outlook.p_hit, -outlook.attainment)
            if clears
            else (1.0, -outlook.attainment, -outlook.p_hit, points)
        )
        if best is None or rank < best[0]:
            best = (rank, shift, points)
    if best is None:
        return None
    _, shift, points = best
    try:
        effect = what_if(situation, [shift], begins)
    except ShiftRefused:  # candidates are built within the limits what_if checks
        return None
    return Recommendation(
        summary=_summary(shift, points, period.period_id, effect.objectives, objective_id),
        shift=shift,
        points=points,
        effect=effect,
        mix=moved_mix(period.channel_mix, shift.source.ident, shift.target.ident, points),
    )


def candidates(
    situation: Situation, judge: Callable[[Shift], Outlook]
) -> list[tuple[Shift, float]]:
    """(shift, points): k × 5 points from a planned channel to an allowed one, within the
    source's remaining planned budget, for the `PAIRS` (source, target) pairs whose first step
    `judge` finds best (every k of every pair would be |channels|² × 20 forecasts a request)."""
    period = situation.period
    assert period is not None
    mix = period.channel_mix
    targets = sorted(situation.allowed_channels or mix)
    steps: dict[tuple[str, str], list[tuple[Shift, float]]] = {}
    for source in sorted(c for c, share in mix.items() if share > 0):
        available = remaining(situation, End("channel", source)) or 0.0
        for target in targets:
            if target == source:
                continue
            k = 1
            while k * STEP_POINTS <= mix[source] + 1e-9:
                amount = period.budget * k * STEP_POINTS / 100
                if amount > available + 1e-6:
                    break
                shift = Shift(End("channel", source), End("channel", target), amount)
                steps.setdefault((source, target), []).append((shift, k * STEP_POINTS))
                k += 1
    first = {pair: judge(moves[0][0]).attainment for pair, moves in steps.items()}
    chosen = sorted(steps, key=lambda pair: (-first[pair], pair))[:PAIRS]
    return [move for pair in chosen for move in steps[pair]]


def moved_mix(mix: dict[str, float], source: str, target: str, points: float) -> dict[str, float]:
    moved = dict(mix)
    moved[source] = round(moved[source] - points, 6)
    moved[target] = round(moved.get(target, 0.0) + points, 6)
    return {c: share for c, share in sorted(moved.items()) if share > 0 or c in mix}


def _summary(
    shift: Shift,
    points: float,
    period_id: str,
    effects: tuple[ObjectiveEffect, ...],
    objective_id: str,
) -> str:
    main = next((e for e in effects if e.objective_id == objective_id), None)
    text = (
        f"move {points:g} points of period {period_id}'s mix ({shift.amount:,.0f}) from "
        f"{shift.source.ident} to {shift.target.ident}"
    )
    if main is not None:
        text += (
            f": {main.name} forecast {main.before.attainment * 100:.0f} % → "
            f"{main.after.attainment * 100:.0f} % of target, P(hit) "
            f"{main.before.p_hit:.2f} → {main.after.p_hit:.2f}"
        )
    return text


def revision(
    situation: Situation, recommendation: Recommendation, workspace: str, incident_id: str
) -> dict[str, Any]:
    """The strategy service request that applies it (a `PeriodBody`)."""
    period = situation.period
    assert period is not None
    return {
        "method": "PUT",
        "service": "strategy",
        "path": (
            f"/v1/workspaces/{workspace}/strategies/{situation.strategy_id}"
            f"/periods/{period.period_id}"
        ),
        "body": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "budget": period.budget,
            "channel_mix": recommendation.mix,
            "reason": f"answering incident {incident_id}: {recommendation.summary}",
            "in_response_to": incident_id,
        },
    }
