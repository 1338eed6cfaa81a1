"""What a page request asks for (workspace, moment, period) and what every page shows in its
frame: the moment's snapshot, the strategy service the page writes to, whether a token is
needed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Engine

from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.alignment.foreground import in_foreground
from truenorth.alignment.page.plan import find_period
from truenorth.alignment.store.read import Moment, workspace_names
from truenorth.alignment.views import parse_moment, past_snapshot
from truenorth.contract.common import PeriodPlan


class PageError(Exception):
    """A request the page cannot answer: its status and a sentence naming the parameter."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class PageQuery:
    workspace: str | None = None
    as_of: str | None = None
    known_at: str | None = None
    period: str | None = None

    def params(self, **changes: str | None) -> str:
        """This query's parameters (with `changes`) as a query string, "" when none."""
        values = {
            "workspace": self.workspace,
            "period": self.period,
            "as_of": self.as_of,
            "known_at": self.known_at,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v}
        return "?" + urlencode(kept) if kept else ""

    def moment_params(self) -> str:
        """The moment only (for links into one workspace's detail views)."""
        return replace(self, workspace=None).params()


@dataclass(frozen=True, slots=True)
class Resolved:
    """The moment a page shows, and the period that set it (if one did)."""

    query: PageQuery
    moment: Moment
    period: PeriodPlan | None
    now: datetime

    @property
    def at(self) -> datetime:
        return from_micros(self.moment.as_of)

    @property
    def past(self) -> bool:
        return not self.moment.live

    @property
    def as_of_text(self) -> str | None:
        return None if self.moment.live else self.at.isoformat()


@dataclass(frozen=True, slots=True)
class Frame:
    """Per-process page settings."""

    strategy_url: str | None
    auth_required: bool


def frame(request: Request) -> Frame:
    runtime = getattr(request.app.state, "runtime", None)
    settings = getattr(runtime, "settings", None)
    shared = getattr(runtime, "shared", None)
    url = getattr(settings, "strategy_url", None)
    return Frame(
        strategy_url=url.rstrip("/") if url else None,
        auth_required=getattr(shared, "auth", "off") == "required",
    )


def engine_of(request: Request) -> Engine | None:
    return getattr(request.app.state, "engine", None)


def clock(request: Request) -> datetime:
    return request.app.state.clock()


async def resolve(request: Request, query: PageQuery) -> Resolved:
    now = clock(request)
    if query.period is not None:
        if query.as_of is not None:
            raise PageError(422, "period: give a period or as_of, not both")
        engine = engine_of(request)
        found = None
        if engine is not None:
            found = await in_foreground(_find_period, engine, query.workspace, query.period, now)
        if found is None:
            where = f"workspace {query.workspace!r}" if query.workspace else "any workspace"
            raise PageError(404, f"period: no planning period {query.period!r} in {where}")
        known_at = _parse(now, None, query.known_at).known_at
        if found.end < now:
            moment = Moment(as_of=to_micros(found.end), known_at=known_at)
        else:
            moment = (
                Moment.now(to_micros(now)) if known_at is None else Moment(to_micros(now), known_at)
            )
        return Resolved(query, moment, found, now)
    return Resolved(query, _parse(now, query.as_of, query.known_at), None, now)


def _parse(now: datetime, as_of: str | None, known_at: str | None) -> Moment:
    try:
        return parse_moment(now, as_of, known_at)
    except ValueError as exc:
        raise PageError(422, str(exc)) from None


def _find_period(
    engine: Engine, workspace: str | None, period_id: str, now: datetime
) -> PeriodPlan | None:
    at = to_micros(now)
    if workspace:
        names = [workspace]
    else:
        with engine.connect() as connection:
            names = workspace_names(connection, Moment.now(at))
    return find_period(engine, names, period_id, at)


async def snapshot_at(request: Request, resolved: Resolved) -> Snapshot | None:
    """The live snapshot, or one as of the resolved moment; None while the projection loads."""
    holder = getattr(request.app.state, "projector", None) or {}
    projector = holder.get("projector")
    partitioned = bool(getattr(request.app.state, "partitioned", {}))
    if projector is None and not partitioned:
        return None
    if resolved.moment.live and projector is not None:
        return projector.snapshot
    return await past_snapshot(
        request.app.state.engine, resolved.moment, resolved.query.workspace or None
    )


def workspaces_of(snapshot: Snapshot | None) -> list[str]:
    if snapshot is None:
        return []
    names = {o.workspace for o in snapshot.objectives}
    names |= snapshot.drifts.workspaces()
    names |= {s.workspace for s in snapshot.strategies}
    return sorted(names)


def allowed_workspaces(request: Request, names: list[str]) -> list[str]:
    """The workspaces the request's token may read (all without auth or an unbound token)."""
    principal: Any = getattr(request.state, "principal", None)
    if principal is None:
        return names
    return [name for name in names if principal.may_act_in(name)]
