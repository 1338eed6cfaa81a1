"""The live plan of each workspace, kept between snapshot builds until a plan event folds.

A live snapshot is rebuilt after every commit, and at 2 000 events/s nearly every commit is
metric observations: they change the facts (totals), never the plan. Reading the plan again
(strategies, objectives and their specs, 1 000 campaigns and their links, check-ins) was a
fifth of a build at 100 objectives / 1 000 campaigns (~20 of ~95 ms, 2026-12-04). Every plan
event is folded from STRATEGY or CAMPAIGNS and moves that stream's checkpoint in the same
transaction, so those checkpoints are the plan's version: while they stand still, the plan
read last time is the plan now.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from truenorth.alignment.domain.entities import WorkspaceView
from truenorth.alignment.store.read import Moment, read_workspace
from truenorth.bus.streams import METRICS
from truenorth.store.schema import checkpoints

KEPT_CAMPAIGNS = 10_000
"""A plan with more campaigns is read at each build and tick rather than kept. At 10 000
objectives / 100 000 campaigns the kept plan was ~49 MB that every tick's temporaries came on
top of: read each time, the service settled ~24 MB lower after ticks, and a build took ~5.2
against ~3.4 s (benchmarks/README.md, nineteenth session). A plan of up to thousands of
campaigns, as in the freshness mix, is kept: there the reading was a fifth of each build."""

PlanVersion = frozenset[tuple[str, str, int]]
"""(consumer, stream, position) of every checkpoint but the METRICS stream's."""


def plan_version(connection: Connection) -> PlanVersion:
    query = select(checkpoints.c.consumer, checkpoints.c.stream, checkpoints.c.position).where(
        checkpoints.c.stream != METRICS.name
    )
    return frozenset((c, s, int(p)) for c, s, p in connection.execute(query))


class LivePlans:
    """`read_workspace` for live snapshots and drift ticks (`reports=False`), reading the plan
    only when its version moved: `refresh` once per build or tick, then `read` each workspace.
    A plan of more than `KEPT_CAMPAIGNS` campaigns is read every time.

    One per projector, shared by its snapshot builds and its ticks, each in its own thread.
    That is safe without a lock: a view is never changed once read, `refresh` swaps in a new
    dict rather than clearing the old one, and a view goes into the dict that was current when
    its reading began, so it is never older than the version it is kept under (at worst a
    workspace is read twice)."""

    def __init__(self) -> None:
        self._version: PlanVersion | None = None
        self._views: dict[str, WorkspaceView] = {}

    def refresh(self, connection: Connection) -> None:
        """Once per build, before reading: forget the plans if a plan event has folded. The
        version is read before the plans, so one committed in between is read now and again
        next time, never missed."""
        version = plan_version(connection)
        if version != self._version:
            self._version, self._views = version, {}

    def read(self, connection: Connection, workspace: str, moment: Moment) -> WorkspaceView:
        views = self._views  # a refresh meanwhile must not receive a view read before it
        view = views.get(workspace)
        if view is None:
            view = read_workspace(connection, workspace, moment, reports=False)
            if len(view.campaigns) <= KEPT_CAMPAIGNS:
                views[workspace] = view
        return view
