"""The plan a page shows beside the figures: for each strategy, one planning period (the one
asked for, else the current one, else the last one that ended, so the plan does not vanish
when a quarter ends) with its budget against the spend inside it and its channel mix, planned
against actual."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from truenorth.alignment.domain.entities import CampaignView, StrategyView, WorkspaceView
from truenorth.alignment.domain.progress import time_phased_budget
from truenorth.alignment.domain.spend import StrategySpend
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.read import Moment, read_workspace
from truenorth.contract.common import SPEND_METRIC, PeriodPlan

PeriodState = Literal["chosen", "current", "ended", "upcoming"]


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel: str
    spend: float
    actual_share: float
    planned_share: float | None
    planned_spend: float | None
    allowed: bool

    @property
    def difference(self) -> float | None:
        """Actual minus planned share (percentage points as a 0–1 ratio)."""
        return None if self.planned_share is None else self.actual_share - self.planned_share


@dataclass(frozen=True, slots=True)
class PeriodOption:
    workspace: str
    strategy_id: str
    period_id: str
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class StrategyPlan:
    workspace: str
    strategy_id: str
    name: str
    period: PeriodPlan | None
    state: PeriodState | None
    spend: float
    """Spend of the strategy's campaigns inside the period (as of the moment)."""
    expected_spend: float | None
    """The budget time-phased to the moment: what the plan meant to have spent by now."""
    channels: tuple[ChannelRow, ...]

    @property
    def budget(self) -> float | None:
        return None if self.period is None else self.period.budget

    @property
    def over_budget(self) -> bool:
        return self.period is not None and self.spend > self.period.budget


def find_period(
    engine: Engine, workspaces: Iterable[str], period_id: str, at: int
) -> PeriodPlan | None:
    """The planning period `period_id` of any strategy of the workspaces, as planned now."""
    with engine.connect() as connection:
        for workspace in workspaces:
            view = read_workspace(connection, workspace, Moment.now(at))
            for strategy in view.strategies.values():
                if period_id in strategy.periods:
                    return strategy.periods[period_id]
    return None


def period_options(engine: Engine, workspaces: Iterable[str], at: int) -> list[PeriodOption]:
    """Every planning period of the workspaces' strategies as planned now, oldest first (one
    per id: a picker names a period once)."""
    options: dict[str, PeriodOption] = {}
    with engine.connect() as connection:
        for workspace in workspaces:
            view = read_workspace(connection, workspace, Moment.now(at))
            for strategy_id, strategy in sorted(view.strategies.items()):
                for period in strategy.periods.values():
                    options.setdefault(
                        period.period_id,
                        PeriodOption(
                            workspace,
                            strategy_id,
                            period.period_id,
                            f"{period.start:%Y-%m-%d}",
                            f"{period.end:%Y-%m-%d}",
                        ),
                    )
    return sorted(options.values(), key=lambda o: (o.start, o.period_id, o.workspace))


def read_plans(
    engine: Engine, workspaces: Iterable[str], moment: Moment, period_id: str | None
) -> list[StrategyPlan]:
    plans = []
    with engine.connect() as connection:
        for workspace in workspaces:
            view = read_workspace(connection, workspace, moment)
            facts = Facts(connection, workspace, moment)
            for strategy_id in sorted(view.strategies):
                plans.append(strategy_plan(view, facts, strategy_id, moment.as_of, period_id))
    return plans


def choose_period(
    strategy: StrategyView, at: int, period_id: str | None
) -> tuple[PeriodPlan | None, PeriodState | None]:
    if period_id is not None and period_id in strategy.periods:
        return strategy.periods[period_id], "chosen"
    current = strategy.current_period(at)
    if current is not None:
        return current, "current"
    periods = list(strategy.periods.values())
    ended = [p for p in periods if to_micros(p.end) <= at]
    if ended:
        return max(ended, key=lambda p: (p.end, p.period_id)), "ended"
    upcoming = [p for p in periods if to_micros(p.start) > at]
    if upcoming:
        return min(upcoming, key=lambda p: (p.start, p.period_id)), "upcoming"
    return None, None


def strategy_plan(
    view: WorkspaceView, facts: Facts, strategy_id: str, at: int, period_id: str | None
) -> StrategyPlan:
    strategy = view.strategies[strategy_id]
    period, state = choose_period(strategy, at, period_id)
    spend = StrategySpend(strategy, at, period=period)
    if period is not None:
        within = facts.sums(SPEND_METRIC, spend.window)
        for campaign_id, amount in sorted(within.items()):
            campaign = view.campaigns.get(campaign_id) or CampaignView(campaign_id)
            if amount and strategy_id in view.strategies_of(campaign):
                spend.add(campaign, amount, bool(view.active_objective_ids(campaign)))
    allowed = set(strategy.allowed_channels)
    channels = tuple(
        ChannelRow(
            channel=share.channel,
            spend=share.spend,
            actual_share=share.actual_share,
            planned_share=share.planned_share,
            planned_spend=share.planned_spend,
            allowed=not allowed or share.channel in allowed,
        )
        for share in (spend.shares() if period is not None else ())
    )
    expected = None
    if period is not None:
        start, end = to_micros(period.start), to_micros(period.end)
        expected = time_phased_budget(period.budget, start, end, min(max(at, start), end))
    return StrategyPlan(
        workspace=view.name,
        strategy_id=strategy_id,
        name=strategy.name or strategy_id,
        period=period,
        state=state,
        spend=spend.total,
        expected_spend=expected,
        channels=tuple(sorted(channels, key=lambda c: (-(c.planned_share or 0), -c.spend))),
    )
