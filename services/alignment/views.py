"""What the service reads from its tables: the snapshot at a moment and the drift tick.
Reading never writes; a tick writes only its drift transitions and their outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

from sqlalchemy import Connection, Engine

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.contributions import CampaignContribution, contributions_of
from truenorth.alignment.domain.drift import DriftTransition, detect_drifts, reconcile
from truenorth.alignment.domain.open_drifts import OpenDrifts, ShownDrift
from truenorth.alignment.domain.snapshot import (
    ObjectiveSnapshot,
    Snapshot,
    WorkspaceSnapshot,
    objective_snapshots,
    workspace_snapshot,
)
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.alignment.foreground import in_foreground, never_wait, paced
from truenorth.alignment.store.drift_writes import drift_events, record_transitions
from truenorth.alignment.store.drifts import (
    LiveDrifts,
    drift_entries,
    drift_workspaces,
    last_published,
    open_drift_ids,
    open_drifts,
    shown_open_drifts,
)
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.plans import LivePlan, LivePlans
from truenorth.alignment.store.read import (
    Moment,
    metrics_only_campaigns,
    read_workspace,
    workspace_names,
)
from truenorth.http import FieldInvalid
from truenorth.store.db import reading
from truenorth.timeparse import parse_instant

Scope = Callable[[str], bool]
"""Which workspaces a reader answers for (a partition's)."""


def parse_moment(now: datetime, as_of: str | None, known_at: str | None) -> Moment:
    """The moment a reader asks for (nothing: live at `now`); FieldInvalid names the field."""
    if as_of is None and known_at is None:
        return Moment.now(to_micros(now))
    values = {}
    for name, text in (("as_of", as_of), ("known_at", known_at)):
        try:
            values[name] = None if text is None else to_micros(parse_instant(text))
        except ValueError as exc:
            raise FieldInvalid(name, str(exc), "datetime_parsing") from None
    return Moment(as_of=values["as_of"] or to_micros(now), known_at=values["known_at"])


def build_snapshot(
    engine: Engine,
    now: datetime,
    moment: Moment | None = None,
    workspace: str | None = None,
    scope: Scope | None = None,
    plans: LivePlans | None = None,
    kept_drifts: LiveDrifts | None = None,
    campaigns: bool = True,
) -> Snapshot:
    """Every figure at the moment (default: live at `now`), of one workspace, of the
    workspaces in `scope` (a partition's), or of all. `plans`, `kept_drifts`: what the live
    projector kept from its last build, used for a live moment only. `campaigns=False`:
    without each objective's contributions, which the live snapshot does not keep
    (`with_campaigns`)."""
    moment = moment or Moment.now(to_micros(now))
    if not moment.live:
        plans = kept_drifts = None
    with reading(engine) as connection:
        names = [workspace] if workspace else workspace_names(connection, moment)
        if scope is not None:
            names = [name for name in names if scope(name)]
        if plans is not None:
            plans.refresh(connection)
        if kept_drifts is not None:
            kept_drifts.refresh(connection)
        parts: list[WorkspaceSnapshot] = []
        drifts: list[OpenDrifts] = []
        for name in names:
            facts = Facts(connection, name, moment)
            if plans is not None:
                plan = plans.read(connection, name, moment)
                view, reader = plan.view, plan.reader(facts)
            else:
                view, reader = read_workspace(connection, name, moment, reports=False), None
            parts.append(workspace_snapshot(view, facts, moment.as_of, campaigns, reader))
            if kept_drifts is not None:
                drifts.append(kept_drifts.read(connection, name))
            else:
                drifts.append(OpenDrifts.of(name, _opened(connection, name, moment)))
    return Snapshot.of(now, parts, OpenDrifts.merged(drifts))


async def past_snapshot(engine: Engine, moment: Moment, workspace: str | None) -> Snapshot:
    """A snapshot as of a past moment, built in a worker thread ahead of drift ticks
    (`foreground`)."""
    at = from_micros(moment.as_of)
    return await in_foreground(build_snapshot, engine, at, moment, workspace)


async def past_objectives(engine: Engine, moment: Moment, workspace: str) -> Snapshot:
    """A snapshot of the workspace's objectives alone as of the moment, built in a worker
    thread ahead of drift ticks (`foreground`): what the read API's objective endpoints
    answer. A whole snapshot also reckons the channel spend and folds the drift history,
    which those endpoints never show: an as_of reading at 1M events, 64-65 -> 59-60 ms of
    CPU (benchmarks/README.md, eleventh session)."""
    return await in_foreground(_objectives_snapshot, engine, moment, workspace)


async def with_campaigns(
    engine: Engine,
    objectives: Sequence[ObjectiveSnapshot],
    at: datetime,
    plans: LivePlans,
    whole_workspace: bool = False,
) -> list[ObjectiveSnapshot]:
    """The live snapshot's objectives with their linked campaigns' contributions, read for
    them alone when a reader asks, in a worker thread ahead of drift ticks. The live snapshot
    keeps no row per campaign: at 100 000 campaigns their contributions were 11 MB held and
    ~30 MB more of each build's peak (benchmarks/README.md, eighteenth session). Read as of
    the snapshot's time against the tables now, so a batch committed since may show in them.
    `whole_workspace`: read the workspace's facts once rather than the objectives' campaigns
    by key (every objective of it is asked)."""
    return await in_foreground(_with_campaigns, engine, objectives, at, plans, whole_workspace)


def _with_campaigns(
    engine: Engine,
    objectives: Sequence[ObjectiveSnapshot],
    at: datetime,
    plans: LivePlans,
    whole_workspace: bool,
) -> list[ObjectiveSnapshot]:
    moment = Moment.now(to_micros(at))
    wanted: dict[str, list[str]] = {}
    for o in objectives:
        if o.campaigns is None:
            wanted.setdefault(o.workspace, []).append(o.objective_id)
    found: dict[tuple[str, str], tuple[CampaignContribution, ...]] = {}
    with reading(engine) as connection:
        plans.refresh(connection)
        for name, objective_ids in wanted.items():
            scope = None if whole_workspace else objective_ids
            view = plans.read(connection, name, moment).with_campaigns_of(connection, moment, scope)
            facts = Facts(connection, name, moment, objective_ids=scope)
            for objective_id in objective_ids:
                objective = view.objectives.get(objective_id)
                spec = None if objective is None else objective.spec
                linked = view.linked_campaigns(objective_id)
                found[name, objective_id] = (
                    () if spec is None else contributions_of(linked, spec, facts)
                )
    return [
        o if o.campaigns is not None else replace(o, campaigns=found[o.workspace, o.objective_id])
        for o in objectives
    ]


def _objectives_snapshot(engine: Engine, moment: Moment, workspace: str) -> Snapshot:
    with reading(engine) as connection:
        view = read_workspace(connection, workspace, moment, reports=False)
        facts = Facts(connection, workspace, moment)
        objectives = tuple(objective_snapshots(view, facts, moment.as_of))
    return Snapshot.of(from_micros(moment.as_of), [WorkspaceSnapshot(objectives=objectives)])


def _opened(connection: Connection, workspace: str, moment: Moment) -> Iterator[ShownDrift]:
    """The drifts open at the moment: live, the open drift rows alone (a live reading used to
    decode every resolved drift's JSON only to drop it); in the past, the history folded."""
    if moment.live:
        yield from shown_open_drifts(connection, workspace)
        return
    for entry in drift_entries(connection, workspace, moment):
        if entry.status == "open":
            d = entry.data
            yield ShownDrift(
                d.drift_id, d.strategy_id, d.objective_id, d.kind, d.severity, d.incident_id
            )


def drift_tick(
    engine: Engine,
    now: datetime,
    scope: Scope | None = None,
    fence: Callable[[Connection], None] | None = None,
    plans: LivePlans | None = None,
    committed: Callable[[list[DriftTransition]], None] | None = None,
    give_way: Callable[[], None] = never_wait,
) -> int:
    """Evaluate drift at `now` in every workspace (of `scope`, a partition's) and commit the
    transitions with their outbox events as they are judged, `TRANSITIONS_PER_WRITE` a
    transaction, each passing the partition's `fence` first; returns how many were
    committed, and hands each committed batch to `committed`. `plans`: the live plans the
    projector's snapshots keep, judged as they are instead of read again. `give_way`: the
    checkpoint at which the tick lets foreground work (a fold, a build, a reading) go first:
    before each reading of the facts, between objectives and between findings."""
    moment = Moment.now(to_micros(now))
    with reading(engine) as connection:
        names = sorted(set(workspace_names(connection, moment)) | set(drift_workspaces(connection)))
        if plans is not None:
            plans.refresh(connection)
    if scope is not None:
        names = [name for name in names if scope(name)]
    count = 0
    for name in names:
        with reading(engine) as judged:
            judging = _judge(judged, name, moment, plans, give_way)
            for batch in batched(judging, TRANSITIONS_PER_WRITE):
                events = drift_events(batch, now)
                with engine.begin() as connection:
                    if fence is not None:
                        fence(connection)
                    record_transitions(connection, events)
                count += len(batch)
                if committed is not None:
                    committed(batch)
    return count


TRANSITIONS_PER_WRITE = 1_000
"""A tick's transitions are written a thousand at a time, a transaction each, as they are
judged: the first tick on a store where all 100 000 campaigns are stale has 110 000, whose
events built at once took the service to a 1.1 GB peak (benchmarks/README.md, thirteenth
session). A crash between two writes leaves the rest to the next tick, which finds them
again."""


def _judge(
    connection: Connection,
    name: str,
    moment: Moment,
    plans: LivePlans | None,
    give_way: Callable[[], None],
) -> Iterator[DriftTransition]:
    """The workspace's drift transitions at the moment, lazily: its findings against its
    open drifts. A batch written while it goes on is of drifts it has already judged."""
    facts = Facts(connection, name, moment, give_way)
    plan = _judged_plan(connection, name, moment, facts, plans)
    open_ids = open_drift_ids(connection, name)
    findings = detect_drifts(plan.view, facts, moment.as_of, open_ids, plan.reader(facts))
    return reconcile(
        name,
        open_ids,
        paced(findings, give_way),
        moment.as_of,
        partial(open_drifts, connection, name),
        partial(last_published, connection, name),
    )


def _judged_plan(
    connection: Connection, name: str, moment: Moment, facts: Facts, plans: LivePlans | None
) -> LivePlan:
    """The live plan, with the campaigns known only from their metrics: drift judges their
    spend (untethered), a snapshot does not show them (a plan that keeps no campaigns reads
    them with the others, a slice at a time). Reusing the plan the snapshots keep took a tick
    at 10 000 objectives from ~5.0 to ~3.5 s, and stopped the 100 000 campaigns it read again
    each time from growing the service by ~15 MB a tick (benchmarks/README.md, twelfth
    session)."""
    if plans is not None:
        plan = plans.read(connection, name, moment)
    else:
        plan = LivePlan(read_workspace(connection, name, moment, reports=False), True)
    metrics_only = metrics_only_campaigns(facts) if plan.keeps_campaigns else None
    if not metrics_only:
        return plan
    # unsorted: the rules sort what they iterate
    view = replace(plan.view, campaigns={**plan.view.campaigns, **metrics_only})
    return plan._replace(view=view)
