"""The live plan of each workspace, kept between snapshot builds until a plan event folds.

A live snapshot is rebuilt after every commit, and at 2 000 events/s nearly every commit is
metric observations: they change the facts (totals), never the plan. Reading the plan again
(strategies, objectives and their specs, 1 000 campaigns and their links, check-ins) was a
fifth of a build at 100 objectives / 1 000 campaigns (~20 of ~95 ms, 2026-12-04). Every plan
event is folded from STRATEGY or CAMPAIGNS and moves that stream's checkpoint in the same
transaction, so those checkpoints are the plan's version: while they stand still, the plan
read last time is the plan now.

A plan of more campaigns than a drift tick judges at once keeps none: builds and ticks read
them a slice at a time (`CampaignsByKey`). At 10 000 objectives / 100 000 campaigns the
campaigns held were ~49 MB, and every build and tick came on top of them (benchmarks/README.md,
nineteenth session).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from sqlalchemy import Connection, select

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.campaign_reader import CampaignSlice
from truenorth.alignment.domain.drift_rules import CAMPAIGNS_PER_READING
from truenorth.alignment.domain.entities import CampaignView, WorkspaceView
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.read import (
    Moment,
    campaign_count,
    launched_campaign_ids,
    metrics_only_campaigns,
    read_campaigns,
    read_plan,
    read_workspace,
)
from truenorth.bus.streams import METRICS
from truenorth.store.schema import checkpoints

KEPT_CAMPAIGNS = CAMPAIGNS_PER_READING
"""A plan keeps its campaigns up to as many as a tick judges at once."""

PlanVersion = frozenset[tuple[str, str, int]]
"""(consumer, stream, position) of every checkpoint but the METRICS stream's."""


def plan_version(connection: Connection) -> PlanVersion:
    query = select(checkpoints.c.consumer, checkpoints.c.stream, checkpoints.c.position).where(
        checkpoints.c.stream != METRICS.name
    )
    return frozenset((c, s, int(p)) for c, s, p in connection.execute(query))


class LivePlan(NamedTuple):
    view: WorkspaceView
    """With its campaigns, if it keeps them."""
    keeps_campaigns: bool

    def reader(self, facts: Facts) -> CampaignsByKey | None:
        """Where the rules read the campaigns of a plan that keeps none."""
        return None if self.keeps_campaigns else CampaignsByKey(facts)

    def with_campaigns_of(
        self, connection: Connection, moment: Moment, objective_ids: Sequence[str] | None
    ) -> WorkspaceView:
        """The plan with the campaigns linked to these objectives at least (None: all)."""
        if self.keeps_campaigns:
            return self.view
        found = read_campaigns(connection, self.view.name, moment, objective_ids=objective_ids)
        return replace(self.view, campaigns=dict(sorted(found.items())))


class LivePlans:
    """The live plan of each workspace for live snapshots and drift ticks (`reports=False`),
    reading it only when its version moved: `refresh` once per build or tick, then `read`
    each workspace. A plan of more than `KEPT_CAMPAIGNS` campaigns keeps none.

    One per projector, shared by its snapshot builds and its ticks, each in its own thread.
    That is safe without a lock: a plan is never changed once read, `refresh` swaps in a new
    dict rather than clearing the old one, and a plan goes into the dict that was current when
    its reading began, so it is never older than the version it is kept under (at worst a
    workspace is read twice)."""

    def __init__(self) -> None:
        self._version: PlanVersion | None = None
        self._plans: dict[str, LivePlan] = {}

    def refresh(self, connection: Connection) -> None:
        """Once per build, before reading: forget the plans if a plan event has folded. The
        version is read before the plans, so one committed in between is read now and again
        next time, never missed."""
        version = plan_version(connection)
        if version != self._version:
            self._version, self._plans = version, {}

    def read(self, connection: Connection, workspace: str, moment: Moment) -> LivePlan:
        plans = self._plans  # a refresh meanwhile must not receive a plan read before it
        plan = plans.get(workspace)
        if plan is None:
            plan = plans[workspace] = _read(connection, workspace, moment)
        return plan


def _read(connection: Connection, workspace: str, moment: Moment) -> LivePlan:
    if campaign_count(connection, workspace, moment) > KEPT_CAMPAIGNS:
        return LivePlan(read_plan(connection, workspace, moment), keeps_campaigns=False)
    return LivePlan(read_workspace(connection, workspace, moment, reports=False), True)


class CampaignsByKey:
    """`CampaignReader` over the tables, for one build or tick: the campaigns linked to some
    objectives, or every campaign a slice at a time, each read by key with its facts."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self._ids: list[str] | None = None

    def linked(self, objective_ids: Sequence[str]) -> Mapping[str, CampaignView]:
        facts = self.facts
        facts.give_way()
        return read_campaigns(
            facts.connection, facts.workspace, facts.moment, objective_ids=objective_ids
        )

    def slices(self) -> Iterator[CampaignSlice]:
        facts = self.facts
        for chunk in batched(self._campaign_ids(), CAMPAIGNS_PER_READING):
            facts.give_way()
            found = read_campaigns(
                facts.connection, facts.workspace, facts.moment, campaign_ids=chunk
            )
            # a campaign known only from its metrics: not launched (its spend is untethered)
            campaigns = {c: found.get(c) or CampaignView(c) for c in chunk}
            yield campaigns, facts.of_campaigns(chunk)

    def _campaign_ids(self) -> list[str]:
        if self._ids is None:
            facts = self.facts
            launched = launched_campaign_ids(facts.connection, facts.workspace, facts.moment)
            self._ids = sorted({*launched, *metrics_only_campaigns(facts)})
        return self._ids
