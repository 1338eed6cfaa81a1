"""An immutable view of the projection at one moment: what the Prometheus collector (metric
names in `truenorth.metric_names`), the read API, the page and the review serve.

Built from a `WorkspaceView` and its `Facts` (the tables, read as of the moment); building it
never writes. The live service builds it after commits, never at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.campaign_reader import CampaignReader
from truenorth.alignment.domain.contributions import (
    CampaignContribution,
    contributions_of,
    objective_window,
    ratio_value,
)
from truenorth.alignment.domain.daily import Series, daily_series, rows_of, trailing_window
from truenorth.alignment.domain.entities import (
    CheckInView,
    ObjectiveView,
    WorkspaceView,
)
from truenorth.alignment.domain.forecast import bounds_of, forecast, reconciliation
from truenorth.alignment.domain.open_drifts import OpenDrifts
from truenorth.alignment.domain.progress import (
    Status,
    evaluate_objective,
    forecast_window_days,
)
from truenorth.alignment.domain.spend import (
    AlignedSpendSnapshot,
    ChannelShareSnapshot,
    spend_by_strategy,
)
from truenorth.alignment.domain.timeunits import MICROS_PER_SECOND, from_micros
from truenorth.alignment.store.facts import Facts
from truenorth.contract.common import SPEND_METRIC
from truenorth.contract.strategy import CONFIDENCE_LEVELS


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
    campaigns: tuple[CampaignContribution, ...] | None
    """Each linked campaign's contribution; None in the live snapshot, which keeps no row per
    campaign: a reader asks for them (`views.with_campaigns`)."""
    forecast_low: float = 0.0
    forecast_high: float = 0.0
    """The 80 % interval of the KPI at the deadline."""
    forecast_attainment_low: float = 0.0
    forecast_attainment_high: float = 0.0
    hit_probability: float = 0.0
    """P(reaching the target by the deadline)."""
    forecast_method: str = ""
    status_note: str | None = None
    """Why status and forecast disagree, when they do."""
    checkins: tuple[CheckInView, ...] = ()
    """The owner's check-ins as of the snapshot, newest first."""

    @property
    def contributions(self) -> tuple[CampaignContribution, ...]:
        """`campaigns`, which a reader of the live snapshot reads first."""
        if self.campaigns is None:
            raise LookupError(f"{self.objective_id}: campaigns not read (views.with_campaigns)")
        return self.campaigns

    @property
    def deadline_seconds(self) -> float:
        return self.deadline.timestamp()

    @property
    def checkin(self) -> CheckInView | None:
        """The latest check-in, shown beside the data-driven forecast."""
        return self.checkins[0] if self.checkins else None

    @property
    def checkin_confidence(self) -> int | None:
        """0 / 1 / 2 for low / medium / high: `truenorth_objective_checkin_confidence`."""
        latest = self.checkin
        return None if latest is None else CONFIDENCE_LEVELS.index(latest.confidence)

    @property
    def checkin_corrected_value(self) -> float | None:
        latest = self.checkin
        return None if latest is None else latest.corrected_value

    @property
    def checkin_seconds(self) -> float | None:
        latest = self.checkin
        return None if latest is None else latest.at / MICROS_PER_SECOND


@dataclass(frozen=True, slots=True)
class StrategyChanges:
    """`truenorth_strategy_changes_total` (per event type) and its last change time."""

    workspace: str
    strategy_id: str
    name: str
    counts: tuple[tuple[str, int], ...]
    last_change_seconds: float


@dataclass(frozen=True, slots=True)
class WorkspaceSnapshot:
    objectives: tuple[ObjectiveSnapshot, ...] = ()
    channels: tuple[ChannelShareSnapshot, ...] = ()
    aligned_spend: tuple[AlignedSpendSnapshot, ...] = ()
    strategies: tuple[StrategyChanges, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: datetime
    objectives: tuple[ObjectiveSnapshot, ...] = ()
    channels: tuple[ChannelShareSnapshot, ...] = ()
    aligned_spend: tuple[AlignedSpendSnapshot, ...] = ()
    drifts: OpenDrifts = field(default_factory=OpenDrifts)
    strategies: tuple[StrategyChanges, ...] = ()
    _by_objective: dict[tuple[str, str], ObjectiveSnapshot] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(
        cls, at: datetime, parts: Iterable[WorkspaceSnapshot], drifts: OpenDrifts = OpenDrifts()
    ) -> Snapshot:
        listed = list(parts)
        objectives = tuple(o for p in listed for o in p.objectives)
        return cls(
            at=at,
            objectives=objectives,
            channels=tuple(c for p in listed for c in p.channels),
            aligned_spend=tuple(a for p in listed for a in p.aligned_spend),
            drifts=drifts,
            strategies=tuple(s for p in listed for s in p.strategies),
            _by_objective={(o.workspace, o.objective_id): o for o in objectives},
        )

    def objective(self, workspace: str, objective_id: str) -> ObjectiveSnapshot | None:
        return self._by_objective.get((workspace, objective_id))

    def objectives_of(self, workspace: str) -> tuple[ObjectiveSnapshot, ...]:
        return tuple(o for o in self.objectives if o.workspace == workspace)


def workspace_snapshot(
    view: WorkspaceView,
    facts: Facts,
    at: int,
    campaigns: bool = True,
    reader: CampaignReader | None = None,
) -> WorkspaceSnapshot:
    """`campaigns=False`: without each objective's contributions (`ObjectiveSnapshot.campaigns`).
    `reader`: where the campaigns are read, for a plan that keeps none."""
    spend = spend_by_strategy(view, facts, at, reader)
    return WorkspaceSnapshot(
        objectives=tuple(objective_snapshots(view, facts, at, campaigns, reader)),
        channels=tuple(spend.channel_snapshots(view.name)),
        aligned_spend=tuple(spend.aligned_snapshots(view.name)),
        strategies=tuple(_strategy_changes(view)),
    )


# -- objectives ------------------------------------------------------------------------------


class FactReadings:
    """`progress.Readings` of one metric over some campaigns."""

    __slots__ = ("_campaigns", "_facts", "_metric")

    def __init__(self, facts: Facts, campaign_ids: Sequence[str], metric: str) -> None:
        self._facts, self._campaigns, self._metric = facts, campaign_ids, metric

    def total(self, low: int, high: int) -> float:
        return self._facts.total(self._campaigns, self._metric, (low, high))

    def latest(self, low: int, high: int) -> float | None:
        return self._facts.latest_level(self._campaigns, self._metric, (low, high))


OBJECTIVES_PER_READING = 500
"""A workspace with more active objectives reads its facts for this many at a time, the
campaigns linked to them alone (`Facts.of_objectives`): at 10 000 objectives / 100 000
campaigns each reading over every campaign was a ~6 MB dict held for the whole build or tick
(benchmarks/README.md, eighteenth session). 500 rather than 1 000 (and 2 500 campaigns rather
than 5 000): the service settled 220 against 248 MB at 1M observations, its first tick as
long (nineteenth session)."""


def objective_snapshots(
    view: WorkspaceView,
    facts: Facts,
    at: int,
    campaigns: bool = True,
    reader: CampaignReader | None = None,
) -> Iterable[ObjectiveSnapshot]:
    for part in objective_slices(view, facts, at, campaigns, reader):
        yield from part.snapshots


class ObjectiveSlice(NamedTuple):
    view: WorkspaceView
    """The plan, with the campaigns linked to these objectives at least."""
    facts: Facts
    objectives: list[ObjectiveView]
    snapshots: Iterator[ObjectiveSnapshot]


def objective_slices(
    view: WorkspaceView,
    facts: Facts,
    at: int,
    campaigns: bool = True,
    reader: CampaignReader | None = None,
) -> Iterator[ObjectiveSlice]:
    """The active objectives' snapshots, a slice at a time (`OBJECTIVES_PER_READING`), each
    with the plan and the facts it was read from (the drift rules judge a slice on them);
    consume each slice before the next. `reader`: where each slice's campaigns are read, for
    a plan that keeps none. Between objectives, the facts' reader may give way."""
    active = [view.objectives[o] for o in sorted(view.objectives) if view.objectives[o].active]
    if not active:
        return
    days = max(forecast_window_days(view.effective_guardrails(o)) for o in active)
    for chunk in batched(active, OBJECTIVES_PER_READING):
        ids = [o.objective_id for o in chunk]
        part = facts if len(active) <= OBJECTIVES_PER_READING else facts.of_objectives(ids)
        seen = view if reader is None else replace(view, campaigns=reader.linked(ids))
        yield ObjectiveSlice(
            seen, part, chunk, _snapshots_of(seen, part, chunk, at, days, campaigns)
        )


def _snapshots_of(
    view: WorkspaceView,
    facts: Facts,
    objectives: list[ObjectiveView],
    at: int,
    days: float,
    campaigns: bool,
) -> Iterator[ObjectiveSnapshot]:
    series = daily_series(view, rows_of(facts, trailing_window(at, days)), objectives)
    for objective in objectives:
        facts.give_way()
        found = series.get(objective.objective_id, [])
        yield objective_snapshot(view, facts, objective, at, found, campaigns)


def objective_snapshot(
    view: WorkspaceView,
    facts: Facts,
    objective: ObjectiveView,
    at: int,
    series: Series | None = None,
    campaigns: bool = True,
) -> ObjectiveSnapshot:
    spec = objective.spec
    assert spec is not None
    linked = view.linked_campaigns(objective.objective_id)
    ids = [c.campaign_id for c in linked]
    guardrails = view.effective_guardrails(objective)
    actual = ratio_value(spec, facts, ids) if spec.aggregation == "ratio" else None
    readings = FactReadings(facts, ids, spec.kpi)
    figures = evaluate_objective(
        spec, readings, at, guardrails, actual=actual, run_rate=0.0 if actual is not None else None
    )
    outlook = forecast(
        series if series is not None else [],
        kind=spec.aggregation,
        target=spec.target,
        baseline=spec.baseline,
        direction=spec.direction,
        now=from_micros(at),
        deadline=spec.deadline,
        window_days=forecast_window_days(guardrails),
        bounds=bounds_of(spec),
        so_far=figures.actual if spec.aggregation == "sum" else None,
    )
    spend = facts.sums(SPEND_METRIC, objective_window(spec))
    by_channel: dict[str, float] = {}
    for c in linked:
        by_channel[c.channel] = by_channel.get(c.channel, 0.0) + spend.get(c.campaign_id, 0.0)
    return ObjectiveSnapshot(
        workspace=view.name,
        strategy_id=objective.strategy_id,
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
        forecast=outlook.value,
        forecast_attainment=outlook.attainment,
        required_rate_per_day=figures.required_rate_per_day,
        status=figures.status,
        start=spec.start,
        deadline=spec.deadline,
        spend=sum(by_channel.values()),
        spend_by_channel=tuple(sorted(by_channel.items())),
        campaigns=contributions_of(linked, spec, facts) if campaigns else None,
        forecast_low=outlook.low,
        forecast_high=outlook.high,
        forecast_attainment_low=outlook.attainment_low,
        forecast_attainment_high=outlook.attainment_high,
        hit_probability=outlook.hit_probability,
        forecast_method=outlook.method,
        status_note=reconciliation(figures.status, figures.pace, outlook),
        checkins=view.checkins.get(spec.objective_id, ()),
    )


def _strategy_changes(view: WorkspaceView) -> Iterable[StrategyChanges]:
    for strategy_id in sorted(view.strategies):
        strategy = view.strategies[strategy_id]
        yield StrategyChanges(
            workspace=view.name,
            strategy_id=strategy_id,
            name=strategy.name,
            counts=tuple(sorted(strategy.change_counts.items())),
            last_change_seconds=strategy.last_change / MICROS_PER_SECOND,
        )
