"""The overview's content: per strategy its period's budget against spend, the channel mix
planned against actual, and its objectives (each a link to its detail view); then the open
incidents, grouped."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from truenorth.alignment.domain.snapshot import ObjectiveSnapshot, Snapshot
from truenorth.alignment.domain.spend import AlignedSpendSnapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.foreground import in_foreground
from truenorth.alignment.page.context import (
    Frame,
    Resolved,
    allowed_workspaces,
    engine_of,
    frame,
    snapshot_at,
    workspaces_of,
)
from truenorth.alignment.page.incidents import IncidentGroup, grouped, read_incidents
from truenorth.alignment.page.plan import PeriodOption, StrategyPlan, period_options, read_plans


@dataclass
class StrategySection:
    workspace: str
    strategy_id: str
    name: str
    plan: StrategyPlan | None
    objectives: list[ObjectiveSnapshot] = field(default_factory=list)

    @property
    def mix_scale(self) -> float:
        """The widest share drawn, so the bars use the whole width."""
        if self.plan is None:
            return 1.0
        shares = [c.actual_share for c in self.plan.channels]
        shares += [c.planned_share or 0.0 for c in self.plan.channels]
        return max([0.01, *shares]) * 1.3


@dataclass
class Overview:
    resolved: Resolved
    frame: Frame
    snapshot: Snapshot | None
    workspaces: list[str]
    sections: list[StrategySection] = field(default_factory=list)
    groups: list[IncidentGroup] = field(default_factory=list)
    periods: list[PeriodOption] = field(default_factory=list)
    cards: list[tuple[str, str]] = field(default_factory=list)

    @property
    def workspace(self) -> str | None:
        return self.resolved.query.workspace

    @property
    def incident_count(self) -> int:
        return sum(len(g.incidents) for g in self.groups)

    @property
    def drift_count(self) -> int:
        return sum(g.drift_count for g in self.groups)


async def build_overview(request: Request, resolved: Resolved) -> Overview:
    snapshot = await snapshot_at(request, resolved)
    known = allowed_workspaces(request, workspaces_of(snapshot))
    chosen = resolved.query.workspace
    shown = [w for w in known if chosen is None or w == chosen]
    overview = Overview(resolved, frame(request), snapshot, known)
    if snapshot is None:
        return overview
    engine = engine_of(request)
    plans: list[StrategyPlan] = []
    incidents: list[dict[str, Any]] = []
    if engine is not None and shown:
        plans, incidents, overview.periods = await asyncio.gather(
            in_foreground(read_plans, engine, shown, resolved.moment, resolved.query.period),
            in_foreground(read_incidents, engine, shown, resolved.moment),
            in_foreground(period_options, engine, shown, to_micros(resolved.now)),
        )
    overview.sections = sections(snapshot, shown, plans)
    overview.groups = grouped(incidents, snapshot)
    overview.cards = cards(snapshot, shown, overview)
    return overview


def sections(
    snapshot: Snapshot, workspaces: list[str], plans: list[StrategyPlan]
) -> list[StrategySection]:
    found: dict[tuple[str, str], StrategySection] = {}
    names = {(s.workspace, s.strategy_id): s.name for s in snapshot.strategies}
    for plan in plans:
        key = (plan.workspace, plan.strategy_id)
        found[key] = StrategySection(plan.workspace, plan.strategy_id, plan.name, plan)
    for objective in snapshot.objectives:
        if objective.workspace not in workspaces:
            continue
        key = (objective.workspace, objective.strategy_id)
        if key not in found:
            name = names.get(key) or objective.strategy_id
            found[key] = StrategySection(key[0], key[1], name, None)
        found[key].objectives.append(objective)
    return [found[key] for key in sorted(found)]


def cards(snapshot: Snapshot, workspaces: list[str], overview: Overview) -> list[tuple[str, str]]:
    objectives = [o for o in snapshot.objectives if o.workspace in workspaces]
    counts: dict[str, int] = defaultdict(int)
    for o in objectives:
        counts[o.status] += 1
    critical = sum(1 for g in overview.groups for i in g.incidents if i["severity"] == "critical")
    found = [
        (str(len(objectives)), "objectives"),
        (str(counts["on_track"] + counts["achieved"]), "on track or achieved"),
        (
            str(counts["at_risk"] + counts["off_track"] + counts["missed"]),
            "at risk, off track or missed",
        ),
        (
            str(overview.incident_count),
            "open incidents" + (f" ({critical} critical)" if critical else ""),
        ),
    ]
    ratio = aligned_ratio([a for a in snapshot.aligned_spend if a.workspace in workspaces])
    if ratio is not None:
        found.append((f"{round(ratio * 100)}%", "of spend tied to active objectives"))
    return found


def aligned_ratio(aligned: list[AlignedSpendSnapshot]) -> float | None:
    totals = [a for a in aligned if a.strategy_id is None]
    spend = sum(a.total_spend for a in totals)
    return sum(a.aligned_spend for a in totals) / spend if spend > 0 else None
