"""Detection of the eight drift kinds of DESIGN §5. Every finding names the tactic, the
objective and why, with the figures behind it; thresholds are guardrails."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from truenorth.alignment.domain.entities import CampaignView, WorkspaceView
from truenorth.alignment.domain.progress import time_phased_budget
from truenorth.alignment.domain.snapshot import (
    CampaignContribution,
    ObjectiveSnapshot,
    StrategySpend,
    WorkspaceSpend,
    campaign_outcome,
    objective_snapshots,
    spend_by_strategy,
)
from truenorth.alignment.domain.timeunits import (
    MICROS_PER_DAY,
    MICROS_PER_HOUR,
    from_micros,
)
from truenorth.alignment.store.read import Facts
from truenorth.contract.alignment import DriftData
from truenorth.contract.common import SPEND_METRIC, DriftKind, Guardrails, Severity

_NOT_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def drift_id(workspace: str, kind: str, subject: str) -> str:
    """Stable Slug for (workspace, kind, subject): readable prefix + 12 hex digits of hash."""
    digest = hashlib.sha256(f"{workspace}\x1f{kind}\x1f{subject}".encode()).hexdigest()[:12]
    readable = _NOT_SLUG.sub("-", f"{kind}-{subject}").strip("-_")
    return f"{readable[: 64 - 13].rstrip('-_')}-{digest}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One drift as detected now."""

    workspace: str
    kind: DriftKind
    subject: str
    severity: Severity
    explanation: str
    figures: dict[str, float] = field(default_factory=dict)
    strategy_id: str | None = None
    objective_id: str | None = None
    campaign_ids: tuple[str, ...] = ()
    channel: str | None = None

    @property
    def drift_id(self) -> str:
        return drift_id(self.workspace, self.kind, self.subject)

    def to_data(self) -> DriftData:
        return DriftData(
            drift_id=self.drift_id,
            kind=self.kind,
            severity=self.severity,
            strategy_id=self.strategy_id or None,
            objective_id=self.objective_id,
            campaign_ids=self.campaign_ids,
            channel=self.channel or None,
            explanation=self.explanation[:4000],
            figures={k: round(v, 6) for k, v in self.figures.items() if math.isfinite(v)},
        )


def detect_drifts(
    view: WorkspaceView,
    facts: Facts,
    at: int,
    objectives: Iterable[ObjectiveSnapshot] | None = None,
) -> Iterator[Finding]:
    """Every drift of one workspace at `at`, one at a time: 10 000 objectives can have
    25 000 drifts. `objectives`: the workspace's objective snapshots at `at`, when the caller
    has them."""
    if objectives is None:
        objectives = objective_snapshots(view, facts, at)
    spend = spend_by_strategy(view, facts, at)
    context = _Context(view, facts, at)
    yield from _objective_off_pace(context, objectives)
    yield from _idle_objectives(context)
    yield from _untethered_spend(context, spend)
    yield from _channel_mix_drift(context, spend)
    yield from _channel_budget_overrun(context, spend)
    for campaign_id in sorted(view.campaigns):
        campaign = view.campaigns[campaign_id]
        yield from _audience_mismatch(context, campaign)
        yield from _inefficient_tactic(context, campaign)
        yield from _campaign_budget_overrun(context, campaign)
        yield from _stale_data(context, campaign)


@dataclass(frozen=True, slots=True)
class _Context:
    workspace: WorkspaceView
    facts: Facts
    at: int

    @property
    def name(self) -> str:
        return self.workspace.name

    def objective_label(self, objective_id: str) -> str:
        objective = self.workspace.objectives.get(objective_id)
        if objective is None or objective.spec is None:
            return objective_id
        return f"{objective.spec.name} ({objective_id})"

    def campaign_guardrails(self, campaign: CampaignView) -> Guardrails:
        """The first active linked objective's guardrails, else its strategy's defaults."""
        for objective_id in self.workspace.active_objective_ids(campaign):
            return self.workspace.effective_guardrails(self.workspace.objectives[objective_id])
        strategies = self.workspace.strategies_of(campaign)
        return self.workspace.strategy_guardrails(strategies[0] if strategies else None)

    def strategy_of(self, campaign: CampaignView) -> str | None:
        strategies = self.workspace.strategies_of(campaign)
        return strategies[0] if strategies else None

    def spend(self, campaign: CampaignView, window: tuple[int, int] | None) -> float:
        return self.facts.sums(SPEND_METRIC, window).get(campaign.campaign_id, 0.0)


# -- formatting ------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _campaign_label(campaign: CampaignView) -> str:
    channel = campaign.channel or "unknown channel"
    return f"{campaign.campaign_id} ({channel})"


def _iso(micros: int) -> str:
    return from_micros(micros).strftime("%Y-%m-%d %H:%M UTC")


# -- objective_off_pace ------------------------------------------------------------------------

_STATUS_WORDS = {"at_risk": "at risk", "off_track": "off track"}
_TWO_WORDS = {
    1: "the linked campaign",
    2: "the two linked campaigns",
    3: "the three linked campaigns",
}


def _objective_off_pace(
    context: _Context, objectives: Iterable[ObjectiveSnapshot]
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
        f"{objective.name}: {_pct(objective.progress)} done at {_pct(objective.expected)} of "
        f"time (pace {objective.pace:.2f}, {_STATUS_WORDS[objective.status]})"
    )
    if laggards:
        verb = "are" if len(laggards) > 1 else "is"
        names = [f"{c.campaign_id} ({_num(c.outcome_per_dollar or 0.0)}/$)" for c in laggards]
        tail = (
            f"{_TWO_WORDS[len(laggards)]} with the lowest {objective.kpi} per dollar {verb} "
            f"{_listing(names)}"
        )
    elif objective.campaigns:
        tail = f"none of its {len(objective.campaigns)} linked campaigns has recorded spend"
    else:
        tail = "no campaign is linked to it"
    forecast = f"forecast at deadline: {_pct(objective.forecast_attainment)} of target"
    return f"{head}; {tail}; {forecast}"


# -- idle_objective --------------------------------------------------------------------------


def _idle_objectives(context: _Context) -> Iterator[Finding]:
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
            states = _listing([f"{c.campaign_id} ({c.status})" for c in linked])
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


# -- untethered_spend ------------------------------------------------------------------------


def _untethered_spend(context: _Context, spend: WorkspaceSpend) -> Iterator[Finding]:
    workspace = context.workspace
    single = next(iter(workspace.strategies)) if len(workspace.strategies) == 1 else None
    limit = context.workspace.strategy_guardrails(single).untethered_spend_share
    limit = 0.10 if limit is None else limit
    untethered = sum(amount for _, amount in spend.untethered)
    where = "the current period" if spend.window is not None else "all recorded spend"
    if spend.total > 0 and untethered / spend.total > limit:
        top = sorted(spend.untethered, key=lambda item: (-item[1], item[0].campaign_id))[:3]
        names = _listing([f"{c.campaign_id} ({_money(a)})" for c, a in top])
        yield Finding(
            workspace=context.name,
            kind="untethered_spend",
            subject="workspace",
            severity="warning",
            explanation=(
                f"{_pct(untethered / spend.total)} of spend in {where} ({_money(untethered)} of "
                f"{_money(spend.total)}) went to campaigns with no active objective "
                f"(limit {_pct(limit)}); largest: {names}"
            ),
            figures={
                "untethered_share": untethered / spend.total,
                "untethered_spend": untethered,
                "total_spend": spend.total,
                "limit_share": limit,
            },
            strategy_id=single,
            campaign_ids=tuple(c.campaign_id for c, _ in top),
        )
    yield from _untethered_campaigns(context)


def _untethered_campaigns(context: _Context) -> Iterator[Finding]:
    workspace = context.workspace
    for campaign_id in sorted(workspace.campaigns):
        campaign = workspace.campaigns[campaign_id]
        if campaign.status == "ended" or workspace.active_objective_ids(campaign):
            continue
        spent = context.spend(campaign, None)
        if spent <= 0:
            continue
        retired = [o for o in campaign.objective_ids if o in workspace.objectives]
        why = (
            f"its objectives {_listing(retired)} are no longer active"
            if retired
            else "it is linked to no objective"
        )
        yield Finding(
            workspace=context.name,
            kind="untethered_spend",
            subject=f"campaign:{campaign_id}",
            severity="info",
            explanation=(
                f"Campaign {_campaign_label(campaign)} has spent {_money(spent)} without an "
                f"active objective: {why}"
            ),
            figures={"spend": spent},
            strategy_id=context.strategy_of(campaign),
            campaign_ids=(campaign_id,),
            channel=campaign.channel or None,
        )


# -- channel_mix_drift -----------------------------------------------------------------------


def _channel_mix_drift(context: _Context, spend: WorkspaceSpend) -> Iterator[Finding]:
    for strategy_id in sorted(spend.strategies):
        strategy_spend = spend.strategies[strategy_id]
        if strategy_spend.total <= 0:
            continue
        guardrails = context.workspace.strategy_guardrails(strategy_id)
        tolerance = guardrails.channel_mix_tolerance_pts
        tolerance = 10.0 if tolerance is None else tolerance
        allowed = strategy_spend.strategy.allowed_channels
        for share in strategy_spend.shares():
            reasons: list[str] = []
            figures = {"spend": share.spend, "actual_share_pts": share.actual_share * 100}
            where = _period_words(strategy_spend)
            if share.planned_share is not None:
                deviation = (share.actual_share - share.planned_share) * 100
                figures |= {
                    "planned_share_pts": share.planned_share * 100,
                    "deviation_pts": deviation,
                    "tolerance_pts": tolerance,
                }
                if abs(deviation) > tolerance:
                    reasons.append(
                        f"took {_pct(share.actual_share)} of strategy {strategy_id}'s spend "
                        f"{where} against {_pct(share.planned_share)} planned "
                        f"({deviation:+.0f} pts, tolerance {tolerance:g} pts)"
                    )
            if allowed and share.channel not in allowed and share.spend > 0:
                reasons.append(
                    f"is not among strategy {strategy_id}'s allowed channels "
                    f"({', '.join(allowed)}) yet took {_money(share.spend)} "
                    f"({_pct(share.actual_share)}) of its spend {where}"
                )
            if not reasons:
                continue
            campaigns = sorted(
                strategy_spend.campaigns_by_channel.get(share.channel, []),
                key=lambda item: (-item[1], item[0]),
            )[:5]
            yield Finding(
                workspace=context.name,
                kind="channel_mix_drift",
                subject=f"{strategy_id}:{share.channel}",
                severity="warning",
                explanation=f"Channel {share.channel} " + "; it ".join(reasons),
                figures=figures,
                strategy_id=strategy_id,
                campaign_ids=tuple(c for c, _ in campaigns),
                channel=share.channel,
            )


def _period_words(strategy_spend: StrategySpend) -> str:
    if strategy_spend.period is None:
        return "over all recorded spend"
    return f"in period {strategy_spend.period.period_id}"


# -- audience_mismatch -----------------------------------------------------------------------


def _audience_mismatch(context: _Context, campaign: CampaignView) -> Iterator[Finding]:
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
                f"Live campaign {_campaign_label(campaign)} targets segment "
                f"'{campaign.segment}', which is not among strategy "
                f"{strategy.name or strategy_id}'s target segments "
                f"({', '.join(strategy.target_segments)}); it serves "
                f"{_listing([context.objective_label(o) for o in objectives])}"
            ),
            figures={"target_segments": float(len(strategy.target_segments))},
            strategy_id=strategy_id,
            objective_id=objectives[0],
            campaign_ids=(campaign.campaign_id,),
            channel=campaign.channel or None,
        )


# -- inefficient_tactic ----------------------------------------------------------------------


def _inefficient_tactic(context: _Context, campaign: CampaignView) -> Iterator[Finding]:
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
    context: _Context,
    campaign: CampaignView,
    objective_id: str,
    kpi: str,
    guardrails: Guardrails,
    planned: float | None,
    spend: float,
    outcome: float,
    figures: dict[str, float],
) -> str | None:
    label, objective = _campaign_label(campaign), context.objective_label(objective_id)
    multiple = guardrails.cost_per_outcome_multiple or 2.0
    if planned and outcome > 0 and spend / outcome > multiple * planned:
        actual = spend / outcome
        figures |= {
            "cost_per_outcome": actual,
            "planned_cost_per_outcome": planned,
            "multiple": actual / planned,
            "limit_multiple": multiple,
        }
        return (
            f"Campaign {label} costs ${actual:,.2f} per {kpi} for {objective}, "
            f"{actual / planned:.1f}× the planned ${planned:,.2f} (limit {multiple:g}×)"
        )
    zero_spend = guardrails.zero_outcome_spend
    zero_spend = 1000.0 if zero_spend is None else zero_spend
    zero_days = guardrails.zero_outcome_days or 14.0
    days = (context.at - campaign.start) / MICROS_PER_DAY
    if outcome <= 0 and spend > zero_spend and days > zero_days:
        figures |= {"days_running": math.floor(days), "limit_spend": zero_spend}
        return (
            f"Campaign {label} spent {_money(spend)} over {days:.0f} days with zero {kpi} for "
            f"{objective} (limits {_money(zero_spend)} and {zero_days:g} days)"
        )
    return None


# -- budget_overrun --------------------------------------------------------------------------


def _campaign_budget_overrun(context: _Context, campaign: CampaignView) -> Iterator[Finding]:
    if campaign.status not in ("live", "paused") or not campaign.launched:
        return
    if campaign.budget <= 0 or context.at <= campaign.start:
        return
    spend = context.spend(campaign, None)
    planned = time_phased_budget(campaign.budget, campaign.start, campaign.end, context.at)
    limit = context.campaign_guardrails(campaign).budget_overrun_share
    limit = 0.10 if limit is None else limit
    if planned <= 0 or spend <= planned * (1 + limit):
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
            f"Campaign {_campaign_label(campaign)} has spent {_money(spend)}, {_pct(over)} "
            f"ahead of its time-phased budget ({_money(planned)} of {_money(campaign.budget)} "
            f"by now, {_pct(elapsed)} of its flight; limit {_pct(limit)})"
            + (f"; it serves {_listing(served)}" if served else "")
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


def _channel_budget_overrun(context: _Context, spend: WorkspaceSpend) -> Iterator[Finding]:
    for strategy_id in sorted(spend.strategies):
        strategy_spend = spend.strategies[strategy_id]
        period = strategy_spend.period
        if period is None or period.budget <= 0 or strategy_spend.window is None:
            continue
        low, high = strategy_spend.window
        limit = context.workspace.strategy_guardrails(strategy_id)
        share_limit = 0.10 if limit.budget_overrun_share is None else limit.budget_overrun_share
        for share in strategy_spend.shares():
            if not share.planned_share:
                continue
            planned = time_phased_budget(period.budget * share.planned_share, low, high, context.at)
            if planned <= 0 or share.spend <= planned * (1 + share_limit):
                continue
            over = share.spend / planned - 1
            yield Finding(
                workspace=context.name,
                kind="budget_overrun",
                subject=f"channel:{strategy_id}:{share.channel}",
                severity="warning",
                explanation=(
                    f"Channel {share.channel} of strategy {strategy_id} has spent "
                    f"{_money(share.spend)} in period {period.period_id}, {_pct(over)} ahead of "
                    f"its time-phased plan ({_money(planned)} by now of "
                    f"{_money(period.budget * share.planned_share)}; limit {_pct(share_limit)})"
                ),
                figures={
                    "spend": share.spend,
                    "planned_to_date": planned,
                    "overrun_share": over,
                },
                strategy_id=strategy_id,
                campaign_ids=tuple(
                    c
                    for c, _ in sorted(
                        strategy_spend.campaigns_by_channel.get(share.channel, []),
                        key=lambda item: (-item[1], item[0]),
                    )[:5]
                ),
                channel=share.channel,
            )


# -- stale_data ------------------------------------------------------------------------------


def _stale_data(context: _Context, campaign: CampaignView) -> Iterator[Finding]:
    if campaign.status != "live":
        return
    went_live = campaign.went_live if campaign.went_live is not None else campaign.start
    reference = max(went_live, campaign.last_report or went_live)
    hours = (context.at - reference) / MICROS_PER_HOUR
    limit = context.campaign_guardrails(campaign).stale_hours or 24.0
    if hours <= limit:
        return
    if campaign.last_report is not None and campaign.last_report >= went_live:
        since = f"last report recorded {_iso(campaign.last_report)}"
    else:
        since = f"none since it went live {_iso(went_live)}"
    served = [context.objective_label(o) for o in context.workspace.active_objective_ids(campaign)]
    yield Finding(
        workspace=context.name,
        kind="stale_data",
        subject=f"campaign:{campaign.campaign_id}",
        severity="warning",
        explanation=(
            f"Live campaign {_campaign_label(campaign)} has reported no metrics for "
            f"{hours:.0f} h (limit {limit:g} h); {since}; "
            + (f"it serves {_listing(served)}" if served else "it serves no active objective")
        ),
        figures={"hours_silent": math.floor(hours), "limit_hours": limit},
        strategy_id=context.strategy_of(campaign),
        objective_id=(context.workspace.active_objective_ids(campaign) or (None,))[0],
        campaign_ids=(campaign.campaign_id,),
        channel=campaign.channel or None,
    )
