"""Drifts of spend: untethered spend, channel mix, a channel ahead of its budget."""

from __future__ import annotations

from collections.abc import Iterator

from truenorth.alignment.domain.drift_findings import (
    Context,
    Finding,
    campaign_label,
    listing,
    money,
    pct,
)
from truenorth.alignment.domain.progress import ChannelShare, time_phased_budget
from truenorth.alignment.domain.spend import StrategySpend, WorkspaceSpend
from truenorth.contract.common import SPEND_METRIC, Guardrails
from truenorth.contract.thresholds import during_warmup, mix_judgeable, warmed_up

# -- untethered_spend ------------------------------------------------------------------------


def untethered_spend(context: Context, spend: WorkspaceSpend) -> Iterator[Finding]:
    workspace = context.workspace
    single = next(iter(workspace.strategies)) if len(workspace.strategies) == 1 else None
    limit = context.workspace.strategy_guardrails(single).untethered_spend_share
    limit = 0.10 if limit is None else limit
    untethered = sum(amount for _, amount in spend.untethered)
    where = "the current period" if spend.window is not None else "all recorded spend"
    guardrails = context.workspace.strategy_guardrails(single)
    subject = context.drift_id("untethered_spend", "workspace")
    share = untethered / spend.total if spend.total > 0 else 0.0
    if spend.total > 0 and context.drifting(subject, share, limit, "above", guardrails):
        top = sorted(spend.untethered, key=lambda item: (-item[1], item[0].campaign_id))[:3]
        names = listing([f"{c.campaign_id} ({money(a)})" for c, a in top])
        yield Finding(
            workspace=context.name,
            kind="untethered_spend",
            subject="workspace",
            severity="warning",
            explanation=(
                f"{pct(untethered / spend.total)} of spend in {where} ({money(untethered)} of "
                f"{money(spend.total)}) went to campaigns with no active objective "
                f"(limit {pct(limit)}); largest: {names}; to resolve: link them to an "
                "objective they serve, or end them"
            ),
            figures={
                "untethered_share": untethered / spend.total,
                "untethered_spend": untethered,
                "total_spend": spend.total,
                "limit_share": limit,
            },
            strategy_id=single,
            campaign_ids=tuple(c.campaign_id for c, _ in top),
            spend_by_campaign={c.campaign_id: a for c, a in spend.untethered},
        )


def untethered_campaigns(context: Context) -> Iterator[Finding]:
    """Each campaign of the context's plan that spent without an active objective."""
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
            f"its objectives {listing(retired)} are no longer active"
            if retired
            else "it is linked to no objective"
        )
        yield Finding(
            workspace=context.name,
            kind="untethered_spend",
            subject=f"campaign:{campaign_id}",
            severity="info",
            explanation=(
                f"Campaign {campaign_label(campaign)} has spent {money(spent)} without an "
                f"active objective: {why}; to resolve: link it to an objective, or end it"
            ),
            figures={"spend": spent},
            strategy_id=context.strategy_of(campaign),
            campaign_ids=(campaign_id,),
            channel=campaign.channel or None,
        )


# -- channel_mix_drift -----------------------------------------------------------------------


def channel_mix_drift(context: Context, spend: WorkspaceSpend) -> Iterator[Finding]:
    """A channel over its planned share (an under-share is the mirror of another channel's
    over-share: named in that drift, not a drift of its own), or spend on a channel the
    strategy does not allow. Shares are judged once the period has spent
    `mix_min_period_spend`, above `info` once it is warmed up."""
    for strategy_id in sorted(spend.strategies):
        strategy_spend = spend.strategies[strategy_id]
        if strategy_spend.total <= 0:
            continue
        guardrails = context.workspace.strategy_guardrails(strategy_id)
        tolerance = guardrails.channel_mix_tolerance_pts
        tolerance = 10.0 if tolerance is None else tolerance
        judge_shares = mix_judgeable(strategy_spend.total, guardrails)
        severity = during_warmup("warning", _period_warmed_up(context, strategy_spend, guardrails))
        shares = strategy_spend.shares()
        for share in shares:
            subject = f"{strategy_id}:{share.channel}"
            reasons, figures = _mix_reasons(
                context, strategy_spend, share, shares, tolerance, judge_shares, guardrails
            )
            if not reasons:
                continue
            carriers = strategy_spend.campaigns_by_channel.get(share.channel, [])
            campaigns = sorted(carriers, key=lambda item: (-item[1], item[0]))[:5]
            carried = (
                "; its spend is carried by "
                + listing([f"{c} ({money(amount)})" for c, amount in campaigns])
                if campaigns
                else "; no campaign spends on it"
            )
            yield Finding(
                workspace=context.name,
                kind="channel_mix_drift",
                subject=subject,
                severity=severity,
                explanation=f"Channel {share.channel} "
                + "; it ".join(reasons)
                + carried
                + "; "
                + _mix_remedy(share, strategy_spend.total),
                figures=figures,
                strategy_id=strategy_id,
                campaign_ids=tuple(c for c, _ in campaigns),
                channel=share.channel,
                spend_by_campaign=dict(carriers),
            )


def _mix_reasons(
    context: Context,
    strategy_spend: StrategySpend,
    share: ChannelShare,
    shares: tuple[ChannelShare, ...],
    tolerance: float,
    judge_shares: bool,
    guardrails: Guardrails,
) -> tuple[list[str], dict[str, float]]:
    strategy_id = strategy_spend.strategy.strategy_id
    reasons: list[str] = []
    figures = {"spend": share.spend, "actual_share_pts": share.actual_share * 100}
    where = _period_words(strategy_spend)
    if share.planned_share is not None and judge_shares:
        deviation = (share.actual_share - share.planned_share) * 100
        figures |= {
            "planned_share_pts": share.planned_share * 100,
            "deviation_pts": deviation,
            "tolerance_pts": tolerance,
        }
        subject = context.drift_id("channel_mix_drift", f"{strategy_id}:{share.channel}")
        if context.drifting(subject, deviation, tolerance, "above", guardrails):
            short = [
                f"{s.channel} ({pct(s.actual_share)} against {pct(s.planned_share or 0.0)})"
                for s in shares
                if s.planned_share is not None and s.actual_share < s.planned_share
            ]
            reasons.append(
                f"took {pct(share.actual_share)} of strategy {strategy_id}'s spend "
                f"{where} against {pct(share.planned_share)} planned "
                f"({deviation:+.0f} pts, tolerance {tolerance:g} pts)"
                + (f", at the expense of {listing(short)}" if short else "")
            )
    allowed = strategy_spend.strategy.allowed_channels
    if allowed and share.channel not in allowed and share.spend > 0:
        reasons.append(
            f"is not among strategy {strategy_id}'s allowed channels "
            f"({', '.join(allowed)}) yet took {money(share.spend)} "
            f"({pct(share.actual_share)}) of its spend {where}"
        )
    return reasons, figures


def _period_warmed_up(
    context: Context, strategy_spend: StrategySpend, guardrails: Guardrails
) -> bool:
    window = strategy_spend.window
    if window is None:
        return True
    low, high = window
    elapsed = (context.at - low) / (high - low) if high > low else 1.0
    spenders = [c for pairs in strategy_spend.campaigns_by_channel.values() for c, _ in pairs]
    readings = context.facts.readings(spenders, SPEND_METRIC, window)
    return warmed_up(
        elapsed_share=elapsed,
        spend=strategy_spend.total,
        observations=readings,
        guardrails=guardrails,
    )


def _mix_remedy(share: ChannelShare, total: float) -> str:
    if share.planned_share is None:
        return "to resolve: move its campaigns to an allowed channel, or allow the channel"
    move = abs(share.actual_share - share.planned_share) * total
    direction = "away from" if share.actual_share > share.planned_share else "to"
    return (
        f"to resolve: move about {money(move)} of the period's spend {direction} "
        f"{share.channel}, or revise the planned mix"
    )


def _period_words(strategy_spend: StrategySpend) -> str:
    if strategy_spend.period is None:
        return "over all recorded spend"
    return f"in period {strategy_spend.period.period_id}"


def channel_budget_overrun(context: Context, spend: WorkspaceSpend) -> Iterator[Finding]:
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
            subject = context.drift_id("budget_overrun", f"channel:{strategy_id}:{share.channel}")
            over_share = share.spend / planned - 1 if planned > 0 else 0.0
            if planned <= 0 or not context.drifting(
                subject, over_share, share_limit, "above", limit
            ):
                continue
            over = share.spend / planned - 1
            yield Finding(
                workspace=context.name,
                kind="budget_overrun",
                subject=f"channel:{strategy_id}:{share.channel}",
                severity="warning",
                explanation=(
                    f"Channel {share.channel} of strategy {strategy_id} has spent "
                    f"{money(share.spend)} in period {period.period_id}, {pct(over)} ahead of "
                    f"its time-phased plan ({money(planned)} by now of "
                    f"{money(period.budget * share.planned_share)}; limit {pct(share_limit)}); "
                    "to resolve: slow the channel's campaigns, or revise the period's mix"
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
                spend_by_campaign=dict(strategy_spend.campaigns_by_channel.get(share.channel, [])),
            )
