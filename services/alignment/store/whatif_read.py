"""What the what-if model reads (`truenorth.alignment.domain.whatif.Situation`): a strategy's
campaigns with their spend and outcomes over the trailing forecast window, their highest daily
spend, what they and the period's channels have left, and each objective's daily series and
actual — all as of a `Moment`, from the projection's per-(campaign, metric, period) totals.
Reading never writes."""

from __future__ import annotations

from sqlalchemy import Connection

from truenorth.alignment.domain.daily import daily_series, rows_of, trailing_window
from truenorth.alignment.domain.entities import CampaignView, ObjectiveView, WorkspaceView
from truenorth.alignment.domain.progress import forecast_window_days
from truenorth.alignment.domain.snapshot import objective_snapshot
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.alignment.domain.whatif_situation import CampaignRecord, ObjectiveRecord, Situation
from truenorth.alignment.store.facts import DailyRows, Facts, day_of
from truenorth.alignment.store.read import Moment, read_workspace
from truenorth.contract.common import SPEND_METRIC


class UnknownStrategy(LookupError):
    pass


class UnknownPeriod(LookupError):
    pass


def read_situation(
    connection: Connection,
    workspace: str,
    strategy_id: str,
    moment: Moment,
    period_id: str | None = None,
) -> Situation:
    """UnknownStrategy when the strategy is not defined as of the moment, UnknownPeriod when
    it has no period `period_id`."""
    view = read_workspace(connection, workspace, moment)
    return situation_of(view, Facts(connection, workspace, moment), strategy_id, moment, period_id)


def situation_of(
    view: WorkspaceView,
    facts: Facts,
    strategy_id: str,
    moment: Moment,
    period_id: str | None = None,
) -> Situation:
    strategy = view.strategies.get(strategy_id)
    if strategy is None or not strategy.defined:
        raise UnknownStrategy(f"strategy {strategy_id!r} is not defined in {view.name!r}")
    at = moment.as_of
    if period_id is not None and period_id not in strategy.periods:
        raise UnknownPeriod(f"strategy {strategy_id!r} has no period {period_id!r}")
    period = strategy.periods[period_id] if period_id else strategy.current_period(at)
    window_days = forecast_window_days(view.strategy_guardrails(strategy_id))
    objectives = [
        o for _, o in sorted(view.objectives.items()) if o.active and o.strategy_id == strategy_id
    ]
    campaigns = [
        c for c in view.campaigns.values() if c.launched and strategy_id in view.strategies_of(c)
    ]
    metrics = {SPEND_METRIC}
    for objective in objectives:
        spec = objective.spec
        assert spec is not None
        metrics.update(m for m in (spec.kpi, spec.numerator, spec.denominator) if m)
    trailing = trailing_window(at, window_days)
    sums = {metric: facts.sums(metric, trailing) for metric in metrics}
    peaks = _peak_daily_spend(facts, trailing)
    spent = facts.sums(SPEND_METRIC, None)
    period_spend: dict[str, float] = {}
    if period is not None:
        in_period = facts.sums(SPEND_METRIC, (to_micros(period.start), to_micros(period.end)))
        for campaign in campaigns:
            amount = in_period.get(campaign.campaign_id, 0.0)
            period_spend[campaign.channel] = period_spend.get(campaign.channel, 0.0) + amount
    return Situation(
        strategy_id=strategy_id,
        now=from_micros(at),
        window_days=window_days,
        period=period,
        allowed_channels=strategy.allowed_channels,
        period_spend_by_channel=period_spend,
        campaigns={c.campaign_id: _record(c, view, sums, peaks, spent) for c in campaigns},
        objectives=_objectives(view, facts, objectives, at),
        known_campaigns=frozenset(c for c, v in view.campaigns.items() if v.launched),
    )


def _record(
    campaign: CampaignView,
    view: WorkspaceView,
    sums: dict[str, dict[str, float]],
    peaks: dict[str, float],
    spent: dict[str, float],
) -> CampaignRecord:
    ident = campaign.campaign_id
    return CampaignRecord(
        campaign_id=ident,
        channel=campaign.channel,
        objective_ids=view.active_objective_ids(campaign),
        spend=sums[SPEND_METRIC].get(ident, 0.0),
        peak_daily_spend=peaks.get(ident, 0.0),
        outcomes={metric: by_campaign.get(ident, 0.0) for metric, by_campaign in sums.items()},
        remaining_budget=campaign.budget - spent.get(ident, 0.0),
    )


def _peak_daily_spend(facts: Facts, window: tuple[int, int]) -> dict[str, float]:
    by_day: dict[tuple[str, int], float] = {}
    for campaign_id, _, end, value in DailyRows(facts, SPEND_METRIC, window):
        key = (campaign_id, day_of(end))
        by_day[key] = by_day.get(key, 0.0) + value
    peaks: dict[str, float] = {}
    for (campaign_id, _), amount in by_day.items():
        peaks[campaign_id] = max(peaks.get(campaign_id, 0.0), amount)
    return peaks


def _objectives(
    view: WorkspaceView, facts: Facts, objectives: list[ObjectiveView], at: int
) -> list[ObjectiveRecord]:
    if not objectives:
        return []
    days = max(forecast_window_days(view.effective_guardrails(o)) for o in objectives)
    series = daily_series(view, rows_of(facts, trailing_window(at, days)), objectives)
    records = []
    for objective in objectives:
        mine = series.get(objective.objective_id, [])
        snapshot = objective_snapshot(view, facts, objective, at, mine)
        assert objective.spec is not None
        records.append(
            ObjectiveRecord(
                objective_id=objective.objective_id,
                spec=objective.spec,
                series=mine,
                so_far=snapshot.actual,
                window_days=forecast_window_days(view.effective_guardrails(objective)),
            )
        )
    return records
