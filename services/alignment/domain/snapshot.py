"""An immutable, cheap-to-read view of the projection at one instant: what the Prometheus
collector (metric names in `truenorth.metric_names`) and the read API serve.

Built on change (not per scrape); reading it never touches the projection again.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from truenorth.alignment.domain.contributions import CampaignContribution, Contributions

__all__ = ["CampaignContribution", "Contributions"]  # re-exported for the drift rules
from truenorth.alignment.domain.entities import (
    CampaignState,
    ObjectiveState,
    StrategyState,
    WorkspaceState,
)
from truenorth.alignment.domain.progress import (
    ChannelShare,
    ObjectiveProgress,
    Status,
    actual_value,
    aligned_spend_ratio,
    channel_shares,
    evaluate_objective,
    forecast_window_days,
    run_rate_per_day,
)
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.queries import (
    SeriesReadings,
    Window,
    campaign_outcome,
    series_of,
    spend_within,
)
from truenorth.alignment.domain.series import ObservationArrays
from truenorth.alignment.domain.timeunits import MICROS_PER_SECOND, to_micros
from truenorth.contract.common import Guardrails, ObjectiveSpec, PeriodPlan

if TYPE_CHECKING:
    from truenorth.alignment.domain.drift import DriftTracker, KeptDrift


@dataclass(frozen=True, slots=True)
class ObjectiveSnapshot:
    """Labels: workspace, strategy_id, objective_id, kpi (+ status for the status gauge)."""

    workspace: str
    strategy_id: str
    objective_id: str
    name: str
    kpi: str
    owner: str
    aggregation: str
    direction: str
    actual: float
    target: float
    baseline: float
    progress: float
    expected: float
    pace: float | None
    run_rate_per_day: float
    forecast: float
    forecast_attainment: float
    required_rate_per_day: float | None
    status: Status
    start: datetime
    deadline: datetime
    spend: float
    spend_by_channel: tuple[tuple[str, float], ...]
    """(channel, spend) over the objective's window: `truenorth_objective_spend`."""
    campaigns: Contributions

    @property
    def deadline_seconds(self) -> float:
        return self.deadline.timestamp()


@dataclass(frozen=True, slots=True)
class ChannelShareSnapshot:
    """`truenorth_channel_spend_share` / `truenorth_channel_planned_share` (0–1)."""

    workspace: str
    strategy_id: str
    period_id: str | None
    """The current planning period; None when none is current (then all-time spend)."""
    channel: str
    spend: float
    actual_share: float
    planned_share: float | None
    planned_spend: float | None
    allowed: bool


@dataclass(frozen=True, slots=True)
class AlignedSpendSnapshot:
    """`truenorth_aligned_spend_ratio`; strategy_id None is the whole workspace."""

    workspace: str
    strategy_id: str | None
    period_id: str | None
    aligned_spend: float
    total_spend: float
    ratio: float | None


@dataclass(frozen=True, slots=True)
class OpenDrift:
    workspace: str
    drift: KeptDrift
    opened_at: datetime
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class StrategyChanges:
    """`truenorth_strategy_changes_total` (per event type) and its last change time."""

    workspace: str
    strategy_id: str
    name: str
    counts: tuple[tuple[str, int], ...]
    last_change_seconds: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: datetime
    objectives: tuple[ObjectiveSnapshot, ...] = ()
    channels: tuple[ChannelShareSnapshot, ...] = ()
    aligned_spend: tuple[AlignedSpendSnapshot, ...] = ()
    drifts: tuple[OpenDrift, ...] = ()
    strategies: tuple[StrategyChanges, ...] = ()
    _by_objective: dict[tuple[str, str], ObjectiveSnapshot] = field(
        default_factory=dict, repr=False, compare=False
    )

    def objective(self, workspace: str, objective_id: str) -> ObjectiveSnapshot | None:
        return self._by_objective.get((workspace, objective_id))

    def objectives_of(self, workspace: str) -> tuple[ObjectiveSnapshot, ...]:
        return tuple(o for o in self.objectives if o.workspace == workspace)


def build_snapshot(
    projection: Projection, now: datetime, tracker: DriftTracker | None = None
) -> Snapshot:
    """Everything the collector and the read API need, computed once at `now`."""
    at = to_micros(now)
    projection.versions_read()
    objectives: list[ObjectiveSnapshot] = []
    channels: list[ChannelShareSnapshot] = []
    aligned: list[AlignedSpendSnapshot] = []
    strategies: list[StrategyChanges] = []
    for name in sorted(projection.workspaces):
        workspace = projection.workspaces[name]
        objectives.extend(_objective_snapshots(projection, name, workspace, at))
        spend = _spend_by_strategy(projection, name, at)
        channels.extend(spend.channel_snapshots(name, workspace))
        aligned.extend(spend.aligned_snapshots(name))
        strategies.extend(_strategy_changes(name, workspace))
    drifts = tuple(tracker.open_drifts(projection)) if tracker is not None else ()
    return Snapshot(
        at=now,
        objectives=tuple(objectives),
        channels=tuple(channels),
        aligned_spend=tuple(aligned),
        drifts=drifts,
        strategies=tuple(strategies),
        _by_objective={(o.workspace, o.objective_id): o for o in objectives},
    )


def _objective_snapshots(
    projection: Projection, name: str, workspace: WorkspaceState, at: int
) -> Iterable[ObjectiveSnapshot]:
    arrays = projection.arrays
    for objective_id in sorted(workspace.objectives):
        objective = workspace.objectives[objective_id]
        spec = objective.spec
        if spec is None or objective.retired:
            continue
        stable = _stable_figures(projection, name, objective, workspace)
        guardrails = projection.effective_guardrails(name, objective)
        readings = SeriesReadings(stable.kpi_series, arrays)
        rate = _recent_run_rate(projection, (name, objective_id), spec, readings, at, guardrails)
        figures = evaluate_objective(
            spec, readings, at, guardrails, actual=stable.actual, run_rate=rate
        )
        yield _objective_snapshot(name, objective.strategy_id, spec, figures, stable.campaigns)


RUN_RATE_REUSE_MICROS = 1_000_000
"""A snapshot reuses an objective's trailing run-rate computed less than a second before:
summing a 7-day window of long series on every rebuild (tens a second) cost more than all
the rest of the snapshot, and a second changes a 7-day average by nothing that matters."""


def _recent_run_rate(
    projection: Projection,
    key: tuple[str, str],
    spec: ObjectiveSpec,
    readings: SeriesReadings,
    at: int,
    guardrails: Guardrails,
) -> float:
    memo_key = ("run-rate", *key)
    cached = projection.memo.get(memo_key)
    if (
        cached is not None
        and cached[0] is spec
        and cached[1] is guardrails
        and 0 <= at - cached[2] < RUN_RATE_REUSE_MICROS
    ):
        return cached[3]
    rate = run_rate_per_day(spec, readings, at, forecast_window_days(guardrails))
    projection.memo[memo_key] = (spec, guardrails, at, rate)
    return rate


@dataclass(frozen=True, slots=True)
class _StableFigures:
    actual: float
    campaigns: Contributions
    kpi_series: array[int]
    """Numbers of the linked campaigns' KPI series (an array: a list of ints is ~40 bytes a
    series, and there is one per objective)."""


def _stable_figures(
    projection: Projection, name: str, objective: ObjectiveState, workspace: WorkspaceState
) -> _StableFigures:
    """Actual and contributions do not depend on the clock: cached until the spec or a linked
    campaign changes."""
    spec = objective.spec
    assert spec is not None
    linked = workspace.linked_campaigns(objective.objective_id)
    key = (tuple(c.campaign_id for c in linked), max((c.version for c in linked), default=0))
    memo_key = ("objective", name, objective.objective_id)
    cached = projection.memo.get(memo_key)
    if cached is not None and cached[0] is spec and cached[1] == key:
        return cached[2]
    arrays = projection.arrays
    kpi_series = array("I", series_of(linked, spec.kpi, arrays))
    window = (objective.start, objective.deadline)
    figures = _StableFigures(
        actual=actual_value(spec, SeriesReadings(kpi_series, arrays)),
        campaigns=Contributions(
            linked,
            [spend_within(c, window, arrays) for c in linked],
            [campaign_outcome(c, spec, arrays, window) for c in linked],
        ),
        kpi_series=kpi_series,
    )
    projection.memo[memo_key] = (spec, key, figures)
    return figures


def _objective_snapshot(
    workspace: str,
    strategy_id: str,
    spec: ObjectiveSpec,
    figures: ObjectiveProgress,
    contributions: Contributions,
) -> ObjectiveSnapshot:
    by_channel = contributions.spend_by_channel()
    return ObjectiveSnapshot(
        workspace=workspace,
        strategy_id=strategy_id,
        objective_id=spec.objective_id,
        name=spec.name,
        kpi=spec.kpi,
        owner=spec.owner,
        aggregation=spec.aggregation,
        direction=spec.direction,
        actual=figures.actual,
        target=spec.target,
        baseline=spec.baseline,
        progress=figures.progress,
        expected=figures.expected,
        pace=figures.pace,
        run_rate_per_day=figures.run_rate_per_day,
        forecast=figures.forecast,
        forecast_attainment=figures.forecast_attainment,
        required_rate_per_day=figures.required_rate_per_day,
        status=figures.status,
        start=spec.start,
        deadline=spec.deadline,
        spend=sum(by_channel.values()),
        spend_by_channel=tuple(sorted(by_channel.items())),
        campaigns=contributions,
    )


# -- spend per strategy ----------------------------------------------------------------------


class StrategySpend:
    """Spend of one strategy's campaigns inside its current period (or all time)."""

    __slots__ = (
        "aligned",
        "by_channel",
        "campaigns_by_channel",
        "period",
        "strategy",
        "total",
        "window",
    )

    def __init__(self, strategy: StrategyState, at: int) -> None:
        self.strategy = strategy
        self.period: PeriodPlan | None = strategy.current_period(at)
        self.window: Window = (
            None
            if self.period is None
            else (to_micros(self.period.start), to_micros(self.period.end))
        )
        self.by_channel: dict[str, float] = defaultdict(float)
        self.campaigns_by_channel: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.aligned = 0.0
        self.total = 0.0

    def add(self, campaign: CampaignState, spend: float, tethered: bool) -> None:
        channel = campaign.channel
        self.by_channel[channel] += spend
        self.campaigns_by_channel[channel].append((campaign.campaign_id, spend))
        self.total += spend
        if tethered:
            self.aligned += spend

    def shares(self) -> tuple[ChannelShare, ...]:
        return channel_shares({c: s for c, s in self.by_channel.items() if s != 0}, self.period)


class WorkspaceSpend:
    """Per-strategy spend plus the workspace's own totals (over the hull of the strategies'
    current periods, or all time when none is current)."""

    def __init__(self, strategies: dict[str, StrategySpend], window: Window) -> None:
        self.strategies = strategies
        self.window = window
        self.aligned = 0.0
        self.total = 0.0
        self.untethered: list[tuple[CampaignState, float]] = []
        """Untethered campaigns with spend inside the workspace window."""

    def channel_snapshots(
        self, name: str, workspace: WorkspaceState
    ) -> Iterable[ChannelShareSnapshot]:
        for strategy_id in sorted(self.strategies):
            spend = self.strategies[strategy_id]
            allowed = set(spend.strategy.allowed_channels)
            for share in spend.shares():
                yield ChannelShareSnapshot(
                    workspace=name,
                    strategy_id=strategy_id,
                    period_id=None if spend.period is None else spend.period.period_id,
                    channel=share.channel,
                    spend=share.spend,
                    actual_share=share.actual_share,
                    planned_share=share.planned_share,
                    planned_spend=share.planned_spend,
                    allowed=not allowed or share.channel in allowed,
                )

    def aligned_snapshots(self, name: str) -> Iterable[AlignedSpendSnapshot]:
        for strategy_id in sorted(self.strategies):
            spend = self.strategies[strategy_id]
            yield AlignedSpendSnapshot(
                workspace=name,
                strategy_id=strategy_id,
                period_id=None if spend.period is None else spend.period.period_id,
                aligned_spend=spend.aligned,
                total_spend=spend.total,
                ratio=aligned_spend_ratio(spend.aligned, spend.total),
            )
        yield AlignedSpendSnapshot(
            workspace=name,
            strategy_id=None,
            period_id=None,
            aligned_spend=self.aligned,
            total_spend=self.total,
            ratio=aligned_spend_ratio(self.aligned, self.total),
        )


def _spend_by_strategy(projection: Projection, name: str, at: int) -> WorkspaceSpend:
    workspace, arrays = projection.workspaces[name], projection.arrays
    strategies = {sid: StrategySpend(s, at) for sid, s in workspace.strategies.items()}
    windows = [s.window for s in strategies.values() if s.window is not None]
    hull: Window = (min(w[0] for w in windows), max(w[1] for w in windows)) if windows else None
    result = WorkspaceSpend(strategies, hull)
    context = _interned(
        projection.memo,
        ("spend-context", name),
        (workspace.plan_version, tuple((k, s.window) for k, s in strategies.items()), hull),
    )
    memos = _spend_memos(projection)
    for campaign in workspace.campaigns.values():
        series = campaign.spend_series(arrays)
        if series is None or arrays.is_empty(series):
            continue
        if not memos.matches(series, campaign.version, context):
            tethered, by_strategy, in_hull = _campaign_spend(
                workspace, campaign, strategies, hull, arrays
            )
            memos.store(series, campaign.version, context, tethered, by_strategy, in_hull)
        else:
            tethered = bool(memos.tethered[series])
            by_strategy = memos.by_strategy[series]
            in_hull = memos.in_hull[series]
        if isinstance(by_strategy, str):  # the usual: one strategy, all of the hull's spend
            strategies[by_strategy].add(campaign, in_hull, tethered)
        else:
            for i in range(0, len(by_strategy), 2):
                strategies[by_strategy[i]].add(campaign, by_strategy[i + 1], tethered)
        result.total += in_hull
        if tethered:
            result.aligned += in_hull
        elif in_hull:
            result.untethered.append((campaign, in_hull))
    return result


class _SpendMemos:
    """Each campaign's spend per strategy window, kept until the campaign or the windows
    change, as columns indexed by the number of the campaign's spend series (an object per
    campaign, with its float, was ~110 bytes: 11 MB at 100 000 campaigns). `by_strategy` is
    flat (strategy id, amount, strategy id, amount, ...), an amount equal to the hull's spend
    is the same float object, and the usual case, one strategy whose window holds all of the
    hull's spend, is just its id."""

    __slots__ = ("by_strategy", "contexts", "in_hull", "tethered", "versions")

    def __init__(self) -> None:
        self.versions = array("q")
        """The campaign's version the memo was computed at (-1: none yet)."""
        self.contexts: list[object] = []
        """The (interned) windows it was computed for: compared by identity."""
        self.tethered = array("b")
        self.by_strategy: list[str | tuple[Any, ...]] = []
        self.in_hull = array("d")

    def matches(self, series: int, version: int, context: object) -> bool:
        if series >= len(self.versions):
            self._grow(series + 1)
            return False
        return self.versions[series] == version and self.contexts[series] is context

    def store(
        self,
        series: int,
        version: int,
        context: object,
        tethered: bool,
        by_strategy: str | tuple[Any, ...],
        in_hull: float,
    ) -> None:
        self.versions[series] = version
        self.contexts[series] = context
        self.tethered[series] = tethered
        self.by_strategy[series] = by_strategy
        self.in_hull[series] = in_hull

    def _grow(self, count: int) -> None:
        more = count - len(self.versions)
        self.versions.extend([-1] * more)
        self.contexts.extend([None] * more)
        self.tethered.extend([0] * more)
        self.by_strategy.extend([""] * more)
        self.in_hull.extend([0.0] * more)


def _spend_memos(projection: Projection) -> _SpendMemos:
    memos = projection.memo.get("spend")
    if memos is None:
        memos = projection.memo["spend"] = _SpendMemos()
    return memos


def _interned(memo: dict[Any, Any], key: Any, value: object) -> object:
    """The object stored under `key` if it equals `value`, else `value` (now stored): lets
    thousands of memos compare by identity instead of comparing long tuples."""
    stored = memo.get(key)
    if stored == value:
        return stored
    memo[key] = value
    return value


def _campaign_spend(
    workspace: WorkspaceState,
    campaign: CampaignState,
    strategies: dict[str, StrategySpend],
    hull: Window,
    arrays: ObservationArrays,
) -> tuple[bool, str | tuple[Any, ...], float]:
    """(tethered, by_strategy, in_hull): see `_SpendMemos`."""
    in_hull = spend_within(campaign, hull, arrays)
    by_strategy: list[Any] = []
    for strategy_id in workspace.strategies_of(campaign):
        spend = strategies.get(strategy_id)
        if spend is not None:
            amount = spend_within(campaign, spend.window, arrays)
            if amount:
                by_strategy += (strategy_id, in_hull if amount == in_hull else amount)
    compact = len(by_strategy) == 2 and by_strategy[1] is in_hull
    return (
        bool(workspace.active_objective_ids(campaign)),
        by_strategy[0] if compact else tuple(by_strategy),
        in_hull,
    )


def spend_by_strategy(projection: Projection, workspace: str, at: int) -> WorkspaceSpend:
    projection.versions_read()
    return _spend_by_strategy(projection, workspace, at)


def _strategy_changes(name: str, workspace: WorkspaceState) -> Iterable[StrategyChanges]:
    for strategy_id in sorted(workspace.strategies):
        strategy = workspace.strategies[strategy_id]
        yield StrategyChanges(
            workspace=name,
            strategy_id=strategy_id,
            name=strategy.name,
            counts=tuple(sorted(strategy.change_counts.items())),
            last_change_seconds=strategy.last_change / MICROS_PER_SECOND,
        )
