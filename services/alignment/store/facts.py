"""The facts of one workspace as of a moment: window sums, counts and latest levels of its
observations' totals, per campaign (`store.read` gives the moment's two time axes).

Reading never writes. Sums are SQL aggregates grouped by campaign, cached per (metric, window)
for one reading: a snapshot asks the same windows of many objectives.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, or_, select

from truenorth.alignment.domain.timeunits import MICROS_PER_DAY
from truenorth.alignment.foreground import never_wait
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.linked import links_at

if TYPE_CHECKING:  # store.read reads the plan with these facts
    from truenorth.alignment.store.read import Moment

Window = tuple[int, int] | None
"""[low, high] in microseconds, or None for all time."""


class Facts:
    """Window sums and latest levels of one workspace's observations as of a moment, of every
    campaign or of a slice of them (`of_objectives`, `of_campaigns`).

    Each reading is a dict over the campaigns of the slice, kept for the build or tick. Its
    keys are the campaign ids the plan holds (`sys.intern`), not a new string per row (~12 ->
    ~6 MB a reading at 100 000 campaigns, benchmarks/README.md, fifteenth session). A large
    workspace is read a slice at a time: every campaign's readings at once were 45 MB of a
    tick at 100 000 campaigns (seventeenth session)."""

    def __init__(
        self,
        connection: Connection,
        workspace: str,
        moment: Moment,
        give_way: Callable[[], None] = never_wait,
        *,
        objective_ids: Sequence[str] | None = None,
        campaign_ids: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        self.connection = connection
        self.workspace = workspace
        self.moment = moment
        self.give_way = give_way
        """Called before each reading, and by a build between objectives: a drift tick's
        gives way to foreground work (`truenorth.alignment.foreground`)."""
        self.source = _fact_source(workspace, moment, objective_ids, campaign_ids, metrics)
        self._sums: dict[tuple[str, Window], dict[str, float]] = {}
        self._latest: dict[tuple[str, Window], dict[str, tuple[int, int, float]]] = {}
        self._counts: dict[tuple[str, Window], dict[str, int]] = {}
        self._reports: dict[str, tuple[int, int]] | None = None
        self._metrics: tuple[str, ...] | None = None

    def of_objectives(self, objective_ids: Sequence[str]) -> Facts:
        """The facts of the campaigns linked to these objectives at the moment, read by the
        primary key."""
        return Facts(
            self.connection,
            self.workspace,
            self.moment,
            self.give_way,
            objective_ids=objective_ids,
        )

    def of_campaigns(self, campaign_ids: Sequence[str]) -> Facts:
        """The facts of these campaigns, read by the primary key."""
        return Facts(
            self.connection,
            self.workspace,
            self.moment,
            self.give_way,
            campaign_ids=campaign_ids,
            metrics=self.metrics(),
        )

    def metrics(self) -> tuple[str, ...]:
        """Every metric the workspace reports. A reading of some campaigns across metrics
        (`reports`) names them, since the totals are keyed metric first: a slice of 5 000
        campaigns at 1M observations, 30 ms by key against 600 ms by a scan (eighteenth
        session)."""
        if self._metrics is None:
            totals = t.period_totals
            query = select(totals.c.metric).distinct().where(totals.c.workspace == self.workspace)
            self._metrics = tuple(sorted(self.execute(query).scalars()))
        return self._metrics

    def execute(self, query: Select[Any]) -> Any:
        """The query's rows, once the reader has given way."""
        self.give_way()
        return self.connection.execute(query)

    def _within(self, query: Select[Any], window: Window) -> Select[Any]:
        source = self.source
        high = self.moment.as_of
        if window is not None:
            query = query.where(source.c.period_start >= window[0])
            high = min(high, window[1])
        return query.where(source.c.period_end <= high)

    def sums(self, metric: str, window: Window) -> dict[str, float]:
        """campaign_id -> Σ of its `metric` over observations whose period lies in the window."""
        key = (metric, window)
        found = self._sums.get(key)
        if found is None:
            rows = self._per_campaign(func.sum(self.source.c.total), metric, window)
            found = self._sums[key] = {sys.intern(c): float(total) for c, total in rows}
        return found

    def counts(self, metric: str, window: Window) -> dict[str, int]:
        """campaign_id -> how many readings (periods) of `metric` lie in the window."""
        key = (metric, window)
        found = self._counts.get(key)
        if found is None:
            rows = self._per_campaign(func.count(), metric, window)
            found = self._counts[key] = {sys.intern(c): int(n) for c, n in rows}
        return found

    def _per_campaign(self, aggregate: Any, metric: str, window: Window) -> Any:
        """(campaign_id, aggregate) of `metric` over the periods in the window."""
        source = self.source
        query = select(source.c.campaign_id, aggregate).where(source.c.metric == metric)
        return self.execute(self._within(query.group_by(source.c.campaign_id), window))

    def readings(self, campaign_ids: Iterable[str], metric: str, window: Window) -> int:
        counts = self.counts(metric, window)
        return sum(counts.get(c, 0) for c in campaign_ids)

    def total(self, campaign_ids: Iterable[str], metric: str, window: Window) -> float:
        sums = self.sums(metric, window)
        return sum(sums.get(c, 0.0) for c in campaign_ids)

    def latest(self, metric: str, window: Window) -> dict[str, tuple[int, int, float]]:
        """campaign_id -> (period end, period start, value) of its latest `metric` reading in
        the window (by period end, then start)."""
        key = (metric, window)
        found = self._latest.get(key)
        if found is None:
            source = self.source
            query = self._within(
                select(
                    source.c.campaign_id,
                    source.c.period_end,
                    source.c.period_start,
                    source.c.total,
                ).where(source.c.metric == metric),
                window,
            )
            found = {}
            for campaign_id, end, start, value in self.execute(query):
                candidate = (int(end), int(start), float(value))
                if campaign_id not in found or candidate > found[campaign_id]:
                    found[sys.intern(campaign_id)] = candidate
            self._latest[key] = found
        return found

    def latest_level(
        self, campaign_ids: Iterable[str], metric: str, window: Window
    ) -> float | None:
        latest = self.latest(metric, window)
        best = max((latest[c] for c in campaign_ids if c in latest), default=None)
        return None if best is None else best[2]

    def reports(self) -> dict[str, tuple[int, int]]:
        """campaign_id -> (latest recorded_at, latest period end) of its observations."""
        if self._reports is None:
            source = self.source
            query = self._within(
                select(
                    source.c.campaign_id,
                    func.max(source.c.last_recorded_at),
                    func.max(source.c.period_end),
                ).group_by(source.c.campaign_id),
                None,
            )
            self._reports = {sys.intern(c): (int(r), int(e)) for c, r, e in self.execute(query)}
        return self._reports


def _fact_source(
    workspace: str,
    moment: Moment,
    objective_ids: Sequence[str] | None,
    campaign_ids: Sequence[str] | None,
    metrics: Sequence[str] | None,
) -> Any:
    """The per-(campaign, metric, period) totals counted as of the moment: the totals table,
    or, with `known_at`, the observation values that counted at that time; of the campaigns
    linked to `objective_ids` at the moment, or of `campaign_ids` (and `metrics`), if given."""
    source = _counted(workspace, moment)
    campaign = source.selected_columns.campaign_id
    if objective_ids is not None:
        linked = links_at(workspace, moment, objective_ids).with_only_columns(
            t.campaign_links.c.campaign_id
        )
        source = source.where(campaign.in_(linked))
    if campaign_ids is not None:
        source = source.where(campaign.in_(campaign_ids))
    if metrics is not None:
        source = source.where(source.selected_columns.metric.in_(metrics))
    return source.subquery("facts")


def _counted(workspace: str, moment: Moment) -> Select[Any]:
    if moment.known_at is None:
        totals = t.period_totals
        return select(
            totals.c.campaign_id,
            totals.c.metric,
            totals.c.period_start,
            totals.c.period_end,
            totals.c.total,
            totals.c.last_recorded_at,
        ).where(totals.c.workspace == workspace)
    obs, known = t.observations, moment.known_at
    return select(
        obs.c.campaign_id,
        obs.c.metric,
        obs.c.period_start,
        obs.c.period_end,
        obs.c.value.label("total"),
        obs.c.recorded_at.label("last_recorded_at"),
    ).where(
        obs.c.workspace == workspace,
        obs.c.recorded_at <= known,
        or_(obs.c.superseded_at.is_(None), obs.c.superseded_at > known),
    )


def day_of(period_end: int) -> int:
    """The day (since the epoch, UTC) a period ending at `period_end` belongs to: a period
    ending at midnight is the day before's."""
    return (period_end - 1) // MICROS_PER_DAY


class DailyRows:
    """A metric's readings of one trailing window, per campaign and day, streamed: a snapshot
    folds them into per-objective daily series without holding them."""

    def __init__(self, facts: Facts, metric: str, window: tuple[int, int]) -> None:
        self.facts, self.metric, self.window = facts, metric, window

    def __iter__(self) -> Iterator[tuple[str, int, int, float]]:
        """(campaign_id, period_start, period_end, value)."""
        source = self.facts.source
        query = self.facts._within(
            select(
                source.c.campaign_id, source.c.period_start, source.c.period_end, source.c.total
            ).where(source.c.metric == self.metric),
            self.window,
        )
        rows = self.facts.execute(query.execution_options(yield_per=t.STREAMED_ROWS))
        for campaign_id, start, end, value in rows:
            yield campaign_id, int(start), int(end), float(value)
