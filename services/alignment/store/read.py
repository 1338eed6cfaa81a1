"""Reading the projection's tables as of a time: one definition of time travel for the read
API, the page, the drift evaluation and the review (docs/design.md, "Time travel").

- `as_of=T`: the plan as it stood at T (the newest version whose event occurred by T) against
  the facts of the world up to T (observations whose period ended by T, campaigns and links as
  they stood at T);
- `known_at=K` (default: everything recorded): only what truenorth had recorded by K, so
  `as_of=T, known_at=T` is what the dashboard showed at T, and `as_of=T` alone is what we now
  know about T, restatements included.

Reading never writes. The facts (observations' totals) are read by `store.facts`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, distinct, func, select

from truenorth.alignment.domain.entities import (
    CampaignView,
    CheckInView,
    ObjectiveView,
    SpecView,
    StrategyView,
    WorkspaceView,
)
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.linked import links_at
from truenorth.contract.common import Guardrails, ObjectiveSpec, PeriodPlan


@dataclass(frozen=True, slots=True)
class Moment:
    """The two time axes of a reading, in microseconds."""

    as_of: int
    known_at: int | None = None
    live: bool = False
    """Read the current rows (the live view at the clock's now): the same answer as
    as_of=now, without the version search."""

    @classmethod
    def now(cls, at: int) -> Moment:
        return cls(as_of=at, live=True)


def workspace_names(connection: Connection, moment: Moment) -> list[str]:
    """Workspaces with a strategy as of the moment. Campaigns and metrics of a workspace
    without one are kept (they count once a strategy is defined) but never judged or
    labelled: anyone who may write could otherwise grow /metrics and the drift log with
    invented workspaces (docs/design.md, "Hostile input")."""
    query = select(t.strategies.c.workspace).distinct()
    return sorted(connection.execute(_versions_filter(query, t.strategies, moment)).scalars())


def read_workspace(
    connection: Connection, workspace: str, moment: Moment, *, reports: bool = True
) -> WorkspaceView:
    """`reports=False`: without the campaigns known only from their metrics, and without the
    scan of every period total that finds them (a third of a build's SQL); a snapshot does
    not show them, and a drift tick adds them itself (`views._judged_plan`)."""
    campaigns = read_campaigns(connection, workspace, moment)
    if reports:
        campaigns |= metrics_only_campaigns(Facts(connection, workspace, moment))
    return replace(
        read_plan(connection, workspace, moment), campaigns=dict(sorted(campaigns.items()))
    )


def read_plan(connection: Connection, workspace: str, moment: Moment) -> WorkspaceView:
    """The workspace's strategies, objectives and check-ins, without its campaigns."""
    return WorkspaceView(
        name=workspace,
        strategies={
            row["strategy_id"]: _strategy(row)
            for row in _newest(connection, t.strategies, "strategy_id", workspace, moment)
        },
        objectives={
            row["objective_id"]: _objective(row)
            for row in _newest(connection, t.objectives, "objective_id", workspace, moment)
        },
        campaigns={},
        checkins=checkins_as_of(connection, workspace, moment),
    )


def read_campaigns(
    connection: Connection,
    workspace: str,
    moment: Moment,
    *,
    campaign_ids: Sequence[str] | None = None,
    objective_ids: Sequence[str] | None = None,
) -> dict[str, CampaignView]:
    """The campaigns launched as of the moment, each with the objectives it served then: all
    of them, those of `campaign_ids`, or those linked to `objective_ids` (each with its links
    to those objectives alone)."""
    links = _links(connection, workspace, moment, campaign_ids, objective_ids)
    campaigns = t.campaigns.c
    chosen: ColumnElement[bool] | None = None
    if campaign_ids is not None:
        chosen = campaigns.campaign_id.in_(campaign_ids)
    elif objective_ids is not None:
        linked = links_at(workspace, moment, objective_ids).subquery()
        chosen = campaigns.campaign_id.in_(select(linked.c.campaign_id))
    rows = _newest(connection, t.campaigns, "campaign_id", workspace, moment, chosen)
    return {row["campaign_id"]: _campaign(row, links.get(row["campaign_id"], ())) for row in rows}


def campaign_count(connection: Connection, workspace: str, moment: Moment) -> int:
    """How many campaigns were launched as of the moment."""
    campaigns = t.campaigns
    query = select(func.count(distinct(campaigns.c.campaign_id))).where(
        campaigns.c.workspace == workspace
    )
    return int(connection.execute(_versions_filter(query, campaigns, moment)).scalar_one())


def launched_campaign_ids(connection: Connection, workspace: str, moment: Moment) -> list[str]:
    """The ids of the campaigns launched as of the moment, sorted."""
    campaigns = t.campaigns
    query = select(campaigns.c.campaign_id).distinct().where(campaigns.c.workspace == workspace)
    found = connection.execute(_versions_filter(query, campaigns, moment)).scalars()
    return sorted(map(sys.intern, found))


# -- versions --------------------------------------------------------------------------------


def _versions_filter(query: Select[Any], table: Any, moment: Moment) -> Select[Any]:
    if moment.live:
        return query.where(table.c.current.is_(True))
    query = query.where(table.c.valid_from <= moment.as_of)
    if moment.known_at is not None:
        query = query.where(table.c.recorded_at <= moment.known_at)
    return query


def _newest(
    connection: Connection,
    table: Any,
    key: str,
    workspace: str,
    moment: Moment,
    chosen: ColumnElement[bool] | None = None,
) -> Iterator[RowMapping]:
    """Each entity's newest version as of the moment (of those `chosen`)."""
    query = _versions_filter(select(table).where(table.c.workspace == workspace), table, moment)
    if chosen is not None:
        query = query.where(chosen)
    if moment.live:
        yield from connection.execute(query).mappings()
        return
    newest: dict[str, RowMapping] = {}
    for row in connection.execute(query.order_by(table.c[key], table.c.version)).mappings():
        newest[row[key]] = row
    yield from newest.values()


def _links(
    connection: Connection,
    workspace: str,
    moment: Moment,
    campaign_ids: Sequence[str] | None = None,
    objective_ids: Sequence[str] | None = None,
) -> dict[str, tuple[str, ...]]:
    """campaign_id -> objective ids linked as of the moment."""
    found: dict[str, set[str]] = {}
    query = links_at(workspace, moment, objective_ids, campaign_ids)
    for campaign_id, objective_id in connection.execute(query):
        found.setdefault(sys.intern(campaign_id), set()).add(sys.intern(objective_id))
    return {c: tuple(sorted(o)) for c, o in found.items()}


def metrics_only_campaigns(facts: Facts) -> dict[str, CampaignView]:
    """The campaigns known only from their metrics so far: counted once launched, judged
    meanwhile (their spend is untethered). Found by the database: at 100 000 campaigns the
    latest report of each, read to find them, was a 15 MB dict (seventeenth session)."""
    source, campaigns = facts.source, t.campaigns
    launched = select(campaigns.c.campaign_id).where(campaigns.c.workspace == facts.workspace)
    launched = _versions_filter(launched, campaigns, facts.moment)
    query = (
        select(source.c.campaign_id)
        .distinct()
        .where(source.c.period_end <= facts.moment.as_of, source.c.campaign_id.not_in(launched))
    )
    return {sys.intern(c): CampaignView(c) for c in facts.execute(query).scalars()}


def checkins_as_of(
    connection: Connection, workspace: str, moment: Moment
) -> dict[str, tuple[CheckInView, ...]]:
    """objective_id -> the check-ins made by `as_of` (and recorded by `known_at`), newest
    first (ties: by event id, UUIDv7, so the later-created first). Live: every one folded, as
    the live view reads the current rows (a clock behind the writer's hides nothing)."""
    table = t.checkins
    query = select(table).where(table.c.workspace == workspace)
    if not moment.live:
        query = query.where(table.c.at <= moment.as_of)
    if moment.known_at is not None:
        query = query.where(table.c.recorded_at <= moment.known_at)
    found: dict[str, list[CheckInView]] = {}
    ordered = query.order_by(table.c.at.desc(), table.c.event_id.desc())
    for row in connection.execute(ordered).mappings():
        found.setdefault(row["objective_id"], []).append(
            CheckInView(
                objective_id=row["objective_id"],
                confidence=row["confidence"],
                narrative=row["narrative"],
                corrected_value=row["corrected_value"],
                source=row["source"],
                actor=row["actor"],
                at=row["at"],
            )
        )
    return {objective_id: tuple(items) for objective_id, items in found.items()}


def _strategy(row: RowMapping) -> StrategyView:
    guardrails = row["guardrails"]
    return StrategyView(
        strategy_id=row["strategy_id"],
        defined=bool(row["defined"]),
        name=row["name"],
        owner=row["owner"],
        target_segments=tuple(row["target_segments"]),
        allowed_channels=tuple(row["allowed_channels"]),
        guardrails=None if guardrails is None else Guardrails.model_validate(guardrails),
        periods={k: PeriodPlan.model_validate(v) for k, v in row["periods"].items()},
        change_counts=dict(row["change_counts"]),
        last_change=int(row["last_change"]),
    )


def _objective(row: RowMapping) -> ObjectiveView:
    spec, override = row["spec"], row["override"]
    return ObjectiveView(
        objective_id=row["objective_id"],
        strategy_id=row["strategy_id"],
        spec=None if spec is None else SpecView.of(ObjectiveSpec.model_validate(spec)),
        retired=bool(row["retired"]),
        override=None if override is None else Guardrails.model_validate(override),
    )


def _campaign(row: RowMapping, links: tuple[str, ...]) -> CampaignView:
    return CampaignView(
        campaign_id=sys.intern(row["campaign_id"]),
        launched=True,
        name=row["name"],
        owner=sys.intern(row["owner"]),
        channel=sys.intern(row["channel"]),
        segment=sys.intern(row["segment"]),
        budget=float(row["budget"]),
        start=int(row["start"]),
        end=int(row["end"]),
        status=sys.intern(row["status"]),
        went_live=row["went_live"],
        stopped=row["stopped"],
        objective_ids=links,
    )
