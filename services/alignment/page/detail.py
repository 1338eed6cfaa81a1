"""One objective's detail view: its path (progress against expected, the forecast and its
80 % interval to the deadline, target revisions), its campaigns with their share of the gap,
its incidents with their history, its check-ins, and the forms that act on them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import Engine

from truenorth import charts
from truenorth.alignment import api
from truenorth.alignment.domain.contributions import CampaignContribution
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.foreground import in_foreground
from truenorth.alignment.page.context import (
    Frame,
    PageError,
    Resolved,
    engine_of,
    frame,
    snapshot_at,
)
from truenorth.alignment.page.history import Sample, progress_samples, revisions
from truenorth.alignment.page.incidents import concerns, facet_subject, read_incidents
from truenorth.alignment.page.plan import PeriodOption, StrategyPlan, period_options, read_plans
from truenorth.alignment.store.read import Moment, read_workspace


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign_id: str
    name: str
    channel: str
    status: str
    spend: float
    outcome: float
    cost_per_outcome: float | None
    gap_share: float | None
    """Its shortfall against its spend-weighted part of the expected figure, as a share of
    every campaign's shortfall (counts only; None for levels and ratios or without a gap)."""


@dataclass
class Detail:
    resolved: Resolved
    frame: Frame
    workspace: str
    objective: ObjectiveSnapshot
    body: dict[str, Any]
    """The read API's JSON of the objective (check-ins included when the API has them)."""
    chart: charts.Chart
    revisions: list[tuple[datetime, str]]
    campaigns: list[CampaignRow]
    incidents: list[dict[str, Any]]
    plan: StrategyPlan | None
    periods: list[PeriodOption] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    """Channels a what-if may move budget between: the strategy's allowed and planned ones."""

    @property
    def checkins(self) -> list[dict[str, Any]]:
        listed = self.body.get("checkins")
        if isinstance(listed, list):
            return listed
        latest = self.body.get("checkin")
        return [latest] if isinstance(latest, dict) else []

    @property
    def gap(self) -> float:
        """Expected figure minus actual, in the KPI's unit (positive: behind)."""
        o = self.objective
        expected = o.baseline + o.expected * (o.target - o.baseline)
        behind = expected - o.actual
        return behind if o.direction == "increase" else -behind


async def build_detail(
    request: Request, resolved: Resolved, workspace: str, objective_id: str
) -> Detail:
    snapshot = await snapshot_at(request, resolved)
    engine = engine_of(request)
    if snapshot is None or engine is None:
        raise PageError(503, "The projection is loading…")
    found = snapshot.objective(workspace, objective_id)
    if found is None:
        raise PageError(404, f"objective {objective_id!r} not found in {workspace!r}")
    body = await objective_json(request, resolved, workspace, objective_id)
    # the API's answer has read the objective's campaigns: not read a second time
    found = replace(found, campaigns=tuple(CampaignContribution(**c) for c in body["campaigns"]))
    moment = resolved.moment
    history, marks, incidents, plans, periods = await asyncio.gather(
        in_foreground(_samples, engine, workspace, found, moment),
        in_foreground(revisions, engine, workspace, objective_id, moment),
        incidents_of(request, resolved, workspace),
        in_foreground(read_plans, engine, [workspace], moment, resolved.query.period),
        in_foreground(period_options, engine, [workspace], to_micros(resolved.now)),
    )
    linked = {c.campaign_id for c in found.contributions}
    mine = [i for i in incidents if concerns(i, objective_id, linked)]
    for incident in mine:
        incident["strategy_id"] = _strategy_of(incident, found)
    plan = next((p for p in plans if p.strategy_id == found.strategy_id), None)
    marked = [(r.at, r.label) for r in marks]
    chart = charts.progress_chart(
        f"{found.name}: progress against expected, forecast to the deadline",
        found.start,
        found.deadline,
        [charts.PathPoint(s.at, s.progress, s.expected) for s in history],
        resolved.at,
        charts.Forecast(
            found.forecast_attainment, found.forecast_attainment_low, found.forecast_attainment_high
        ),
        marked,
    )
    channels = sorted({c.channel for c in plan.channels} if plan else set())
    return Detail(
        resolved=resolved,
        frame=frame(request),
        workspace=workspace,
        objective=found,
        body=body,
        chart=chart,
        revisions=marked,
        campaigns=campaign_rows(found),
        incidents=sorted(mine, key=lambda i: (i["status"], i["opened_at"])),
        plan=plan,
        periods=periods,
        channels=channels,
    )


def _samples(
    engine: Engine, workspace: str, found: ObjectiveSnapshot, moment: Moment
) -> list[Sample]:
    with engine.connect() as connection:
        view = read_workspace(connection, workspace, moment)
    objective = view.objectives.get(found.objective_id)
    if objective is None or objective.spec is None:
        return []
    return progress_samples(engine, workspace, found.objective_id, moment, objective.spec)


async def objective_json(
    request: Request, resolved: Resolved, workspace: str, objective_id: str
) -> dict[str, Any]:
    """The read API's answer for the objective, in process (the page shows what the API
    serves, fields added to the API included)."""
    try:
        return await api.objective(
            request,
            workspace,
            objective_id,
            as_of=resolved.as_of_text,
            known_at=resolved.query.known_at,
        )
    except HTTPException as exc:
        raise PageError(exc.status_code, str(exc.detail)) from None


async def incidents_of(
    request: Request, resolved: Resolved, workspace: str
) -> list[dict[str, Any]]:
    """Every incident of the workspace (open and resolved) as the read API serves them
    (recommendations included when the API has them), else read directly."""
    try:
        answer = await api.incidents(
            request,
            workspace,
            status="all",
            as_of=resolved.as_of_text,
            known_at=resolved.query.known_at,
        )
        listed = list(answer["incidents"])
    except HTTPException:
        engine = engine_of(request)
        if engine is None:
            return []
        listed = await in_foreground(read_incidents, engine, [workspace], resolved.moment, "all")
    for incident in listed:
        incident.setdefault("workspace", workspace)
        for facet in incident["facets"]:
            facet["subject"] = facet_subject(facet)
    return listed


def _strategy_of(incident: dict[str, Any], objective: ObjectiveSnapshot) -> str:
    for facet in incident["facets"]:
        if facet.get("strategy_id"):
            return str(facet["strategy_id"])
    return objective.strategy_id


def campaign_rows(o: ObjectiveSnapshot) -> list[CampaignRow]:
    counts = o.aggregation == "sum"
    total_spend = sum(c.spend for c in o.contributions)
    added = o.expected * (o.target - o.baseline)
    shortfalls: dict[str, float] = {}
    if counts and total_spend > 0:
        for c in o.contributions:
            fair = added * c.spend / total_spend
            gap = fair - c.outcome if o.direction == "increase" else c.outcome - fair
            shortfalls[c.campaign_id] = max(gap, 0.0)
    total_gap = sum(shortfalls.values())
    rows = [
        CampaignRow(
            campaign_id=c.campaign_id,
            name=c.name or c.campaign_id,
            channel=c.channel,
            status=c.status,
            spend=c.spend,
            outcome=c.outcome,
            cost_per_outcome=c.cost_per_outcome,
            gap_share=shortfalls[c.campaign_id] / total_gap
            if total_gap > 0 and c.campaign_id in shortfalls
            else None,
        )
        for c in o.contributions
    ]
    return sorted(rows, key=lambda r: (-(r.gap_share or 0.0), -r.spend, r.campaign_id))
