"""The folded state of one workspace: strategies, objectives, campaigns, observation ids."""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections.abc import Hashable, Iterator
from typing import TypeVar

from truenorth.alignment.domain.series import ObservationArrays
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.common import SPEND_METRIC, Guardrails, ObjectiveSpec, PeriodPlan

_Value = TypeVar("_Value", bound=Hashable)


class SharedValues:
    """One copy of each equal immutable value: 100 000 campaigns mostly share a few start and
    end dates and a few sets of linked objectives, and an int or a tuple per campaign field
    cost ~32-60 bytes each (~10 MB at that size). Bounded: past `limit` distinct values a
    new one is kept as it is, so values that never repeat cost nothing beyond the limit.
    Keep one per kind of value: 1, 1.0 and True are equal."""

    __slots__ = ("_limit", "_values")

    def __init__(self, limit: int = 65_536) -> None:
        self._values: dict[object, object] = {}
        self._limit = limit

    def __call__(self, value: _Value) -> _Value:
        stored = self._values.get(value)
        if stored is not None:
            return stored  # type: ignore[return-value]  # equal to value, so of its type
        if len(self._values) < self._limit:
            self._values[value] = value
        return value

    def __len__(self) -> int:
        return len(self._values)


class StrategyState:
    __slots__ = (
        "allowed_channels",
        "change_counts",
        "defined",
        "guardrails",
        "last_change",
        "last_event_id",
        "name",
        "owner",
        "periods",
        "strategy_id",
        "target_segments",
    )

    def __init__(self, strategy_id: str) -> None:
        self.strategy_id = strategy_id
        self.defined = False
        self.name = ""
        self.owner = ""
        self.target_segments: tuple[str, ...] = ()
        self.allowed_channels: tuple[str, ...] = ()
        self.guardrails: Guardrails | None = None
        """The strategy's defaults (GuardrailsSet without objective_id)."""
        self.periods: dict[str, PeriodPlan] = {}
        self.change_counts: dict[str, int] = {}
        """Strategy events per type, for change annotations."""
        self.last_change = 0
        self.last_event_id = ""

    def current_period(self, at: int) -> PeriodPlan | None:
        """The planning period containing `at` (the latest-starting one if several do)."""
        best: PeriodPlan | None = None
        for period in self.periods.values():
            if to_micros(period.start) <= at < to_micros(period.end) and (
                best is None or (period.start, period.period_id) > (best.start, best.period_id)
            ):
                best = period
        return best


class ObjectiveState:
    __slots__ = ("deadline", "objective_id", "override", "retired", "spec", "start", "strategy_id")

    def __init__(self, objective_id: str) -> None:
        self.objective_id = objective_id
        self.strategy_id = ""
        self.spec: ObjectiveSpec | None = None
        self.retired = False
        self.override: Guardrails | None = None
        """GuardrailsSet for this objective (latest wins)."""
        self.start = 0
        self.deadline = 0

    @property
    def active(self) -> bool:
        return self.spec is not None and not self.retired


class CampaignState:
    __slots__ = (
        "budget",
        "campaign_id",
        "channel",
        "end",
        "first_series",
        "last_report",
        "launched",
        "name",
        "objective_ids",
        "owner",
        "segment",
        "start",
        "status",
        "stopped",
        "version",
        "went_live",
    )

    def __init__(self, campaign_id: str) -> None:
        self.campaign_id = campaign_id
        self.launched = False
        """False while only metrics have been seen for this id."""
        self.name = ""
        self.owner = ""
        self.objective_ids: tuple[str, ...] = ()
        self.channel = ""
        self.segment = ""
        self.budget = 0.0
        self.start = 0
        self.end = 0
        self.status = "planned"
        self.went_live: int | None = None
        """When it last went live."""
        self.stopped: int | None = None
        """When it last stopped being live (paused or ended while live)."""
        self.last_report: int | None = None
        """Latest recorded_at of its metric observations."""
        self.first_series = 0
        """number + 1 of its latest series (0: none); the rest are linked through
        `ObservationArrays.series_next`."""
        self.version = 0
        """The projection's version at its last change, greater than any a reader saw
        before it (derived caches compare it; see `Projection.versions_read`; not
        persisted)."""

    def all_series(self, arrays: ObservationArrays) -> Iterator[int]:
        link, following = self.first_series, arrays.series_next
        while link:
            yield link - 1
            link = following[link - 1]

    def series_of(self, metric: str, arrays: ObservationArrays) -> int | None:
        link, metrics, following = self.first_series, arrays.series_metrics, arrays.series_next
        while link:
            if metrics[link - 1] == metric:
                return link - 1
            link = following[link - 1]
        return None

    def ensure_series(self, metric: str, arrays: ObservationArrays) -> int:
        series = self.series_of(metric, arrays)
        if series is None:
            series = arrays.new_series(self.campaign_id, sys.intern(metric), self.first_series)
            self.first_series = series + 1
        return series

    def spend_series(self, arrays: ObservationArrays) -> int | None:
        return self.series_of(SPEND_METRIC, arrays)


class WorkspaceState:
    __slots__ = (
        "acknowledged",
        "amounts",
        "campaigns",
        "instants",
        "link_sets",
        "links",
        "objectives",
        "plan_version",
        "strategies",
    )

    def __init__(self) -> None:
        self.strategies: dict[str, StrategyState] = {}
        self.objectives: dict[str, ObjectiveState] = {}
        self.campaigns: dict[str, CampaignState] = {}
        self.acknowledged: dict[str, int] = {}
        """drift_id -> latest acknowledgement time."""
        self.links: dict[str, list[str]] = {}
        """objective_id -> ids of campaigns linked to it, sorted (derived from campaigns)."""
        self.plan_version = 0
        """Bumped on every strategy event (derived caches compare it; not persisted)."""
        # apart: equal values of different types (1 == 1.0 == True) must not stand in
        # for each other
        self.instants: SharedValues = SharedValues()
        """Campaign start and end times, kept once each."""
        self.link_sets: SharedValues = SharedValues()
        """Campaigns' tuples of linked objective ids, kept once each."""
        self.amounts: SharedValues = SharedValues()
        """Campaign budgets, kept once each: teams budget in round figures."""

    def strategy(self, strategy_id: str) -> StrategyState:
        state = self.strategies.get(strategy_id)
        if state is None:
            state = self.strategies[strategy_id] = StrategyState(strategy_id)
        return state

    def objective(self, objective_id: str) -> ObjectiveState:
        state = self.objectives.get(objective_id)
        if state is None:
            state = self.objectives[objective_id] = ObjectiveState(objective_id)
        return state

    def campaign(self, campaign_id: str) -> CampaignState:
        state = self.campaigns.get(campaign_id)
        if state is None:
            state = self.campaigns[campaign_id] = CampaignState(campaign_id)
        return state

    def set_links(self, campaign: CampaignState, objective_ids: tuple[str, ...]) -> None:
        campaign_id = campaign.campaign_id
        for objective_id in campaign.objective_ids:
            linked = self.links[objective_id]
            del linked[bisect_left(linked, campaign_id)]
            if not linked:
                del self.links[objective_id]
        # interned: every campaign of an objective shares one copy of its id, and campaigns
        # linked to the same objectives one tuple
        campaign.objective_ids = self.link_sets(
            tuple(sorted({sys.intern(o) for o in objective_ids}))
        )
        for objective_id in campaign.objective_ids:
            linked = self.links.setdefault(objective_id, [])
            linked.insert(bisect_left(linked, campaign_id), campaign_id)

    def linked_campaigns(self, objective_id: str) -> list[CampaignState]:
        return [self.campaigns[c] for c in self.links.get(objective_id, ())]

    def active_objective_ids(self, campaign: CampaignState) -> tuple[str, ...]:
        objectives = self.objectives
        return tuple(o for o in campaign.objective_ids if o in objectives and objectives[o].active)

    def strategies_of(self, campaign: CampaignState) -> tuple[str, ...]:
        """Strategies owning the campaign's objectives; a workspace with a single strategy owns
        every campaign (so untethered spend still shows up in its figures)."""
        owners = {
            self.objectives[o].strategy_id
            for o in campaign.objective_ids
            if o in self.objectives and self.objectives[o].spec is not None
        }
        if not owners and len(self.strategies) == 1:
            return tuple(self.strategies)
        return tuple(sorted(owners))
