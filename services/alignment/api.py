"""The read API: objectives, drifts and incidents of a workspace, live or as of any moment
(docs/design.md, "Time travel"), answered from the projection's tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from truenorth.alignment.domain.snapshot import ObjectiveSnapshot, Snapshot
from truenorth.alignment.foreground import in_foreground
from truenorth.alignment.projector import Projector
from truenorth.alignment.store.drifts import DriftEntry, drift_entries, lifecycle
from truenorth.alignment.store.read import Moment
from truenorth.alignment.views import parse_moment, past_objectives
from truenorth.alignment.whatif_api import recommendations
from truenorth.drift_lifecycle import Incident

# -- read API --------------------------------------------------------------------------------

AsOf = Annotated[
    str | None,
    Query(
        description="The plan as it stood at this time against the facts of the world up to "
        "it (ISO 8601; a bare date means the end of that day, UTC)"
    ),
]
KnownAt = Annotated[
    str | None,
    Query(
        description="Only what truenorth had recorded by this time (default: everything): "
        "as_of=T&known_at=T is what the dashboard showed at T"
    ),
]


read_router = APIRouter(prefix="/v1/workspaces/{workspace}", tags=["read"])
router = read_router


@router.get("/objectives", summary="Objectives with progress, status, forecast, campaigns")
async def objectives(
    request: Request, workspace: str, as_of: AsOf = None, known_at: KnownAt = None
) -> dict[str, Any]:
    snapshot = await _snapshot(request, workspace, as_of, known_at)
    listed = snapshot.objectives_of(workspace)
    return {
        "as_of": snapshot.at.isoformat(),
        "objectives": [
            _objective(o) for o in await with_campaigns(request, snapshot, listed, True)
        ],
    }


@router.get("/objectives/{objective_id}", summary="One objective's progress")
async def objective(
    request: Request,
    workspace: str,
    objective_id: str,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> dict[str, Any]:
    snapshot = await _snapshot(request, workspace, as_of, known_at)
    found = snapshot.objective(workspace, objective_id)
    if found is None:
        raise HTTPException(404, f"objective {objective_id!r} not found in {workspace!r}")
    (found,) = await with_campaigns(request, snapshot, [found])
    checkins = [c.as_dict() for c in found.checkins]
    return {"as_of": snapshot.at.isoformat(), **_objective(found), "checkins": checkins}


@router.get("/drifts", summary="Drifts (open, resolved, by kind or objective)")
async def drifts(
    request: Request,
    workspace: str,
    status: Literal["open", "resolved", "all"] = "open",
    kind: str | None = None,
    objective: str | None = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    moment = _moment(request, as_of, None)
    items = []
    for entry in await _drift_entries(request, workspace, moment):
        data = entry.data
        if status != "all" and entry.status != status:
            continue
        if kind and data.kind != kind:
            continue
        if objective and data.objective_id != objective:
            continue
        items.append(
            {
                "status": entry.status,
                "since": entry.since.isoformat(),
                "opened_at": entry.opened_at.isoformat(),
                **data.model_dump(mode="json"),
            }
        )
    items.sort(key=lambda d: (d["status"], d["kind"], d["drift_id"]))
    at = datetime.fromtimestamp(moment.as_of / 1e6, UTC)
    return {"as_of": at.isoformat(), "drifts": items}


def _moment(request: Request, as_of: str | None, known_at: str | None) -> Moment:
    return parse_moment(request.app.state.clock(), as_of, known_at)


def _projector(request: Request) -> Projector | None:
    """The process's projector (None for a partitioned worker, which reads the shared tables
    for every workspace); 503 while it loads."""
    if getattr(request.app.state, "partitioned", {}):
        return None
    projector: Projector | None = request.app.state.projector.get("projector")
    if projector is None:
        raise HTTPException(503, "projection is loading")
    return projector


async def _snapshot(
    request: Request, workspace: str, as_of: str | None, known_at: str | None
) -> Snapshot:
    """What the objective endpoints read: the live snapshot, or the workspace's objectives
    as of the moment."""
    projector = _projector(request)
    moment = _moment(request, as_of, known_at)
    if moment.live and projector is not None:
        return projector.snapshot
    return await past_objectives(request.app.state.engine, moment, workspace)


async def with_campaigns(
    request: Request,
    snapshot: Snapshot,
    objectives: Sequence[ObjectiveSnapshot],
    whole_workspace: bool = False,
) -> list[ObjectiveSnapshot]:
    """The snapshot's objectives with their campaigns' contributions: read now for those of
    the live snapshot, which keeps none (`views.with_campaigns`)."""
    if all(o.campaigns is not None for o in objectives):
        return list(objectives)
    projector = _projector(request)
    assert projector is not None  # only the projector's live snapshot leaves them out
    return await projector.with_campaigns(snapshot, objectives, whole_workspace)


async def _drift_entries(request: Request, workspace: str, moment: Moment) -> list[DriftEntry]:
    _projector(request)
    engine = request.app.state.engine

    def read() -> list[DriftEntry]:
        with engine.connect() as connection:
            return drift_entries(connection, workspace, moment)

    return await in_foreground(read)


def _objective(o: ObjectiveSnapshot) -> dict[str, Any]:
    body = {f.name: getattr(o, f.name) for f in fields(o)}
    body["campaigns"] = [asdict(c) for c in o.contributions]
    body["start"] = o.start.isoformat()
    body["deadline"] = o.deadline.isoformat()
    body["spend_by_channel"] = dict(o.spend_by_channel)
    del body["checkins"]  # the single objective lists them all; the latest is enough here
    body["checkin"] = None if o.checkin is None else o.checkin.as_dict()
    return body


@router.get(
    "/incidents",
    summary="Incidents: drifts with one cause, their history, acknowledgements and answers; "
    "an open off-pace one carries the best budget shift found as its recommendation",
)
async def incidents(
    request: Request,
    workspace: str,
    status: Literal["open", "resolved", "all"] = "open",
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> dict[str, Any]:
    _projector(request)
    moment = _moment(request, as_of, known_at)
    engine = request.app.state.engine

    def read() -> tuple[list[Incident], dict[str, dict[str, Any] | None]]:
        with engine.connect() as connection:
            listed = [
                i
                for i in lifecycle(connection, workspace, moment).incidents(workspace)
                if status == "all" or i.status == status
            ]
        return listed, recommendations(engine, workspace, moment, listed)

    listed, recommended = await in_foreground(read)
    found = [{**incident_json(i), "recommendation": recommended.get(i.incident_id)} for i in listed]
    found.sort(key=lambda i: (i["status"], -SEVERITY_RANK[i["severity"]], i["opened_at"]))
    at = datetime.fromtimestamp(moment.as_of / 1e6, UTC)
    return {"as_of": at.isoformat(), "incidents": found}


SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.incident_id,
        "subject": incident.subject,
        "cause": incident.cause,
        "severity": incident.severity,
        "status": incident.status,
        "kinds": list(incident.kinds),
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": _iso(incident.resolved_at),
        "first_detected_at": incident.first_detected_at.isoformat(),
        "acknowledged": incident.acknowledged,
        "acknowledgements": [
            {"by": a.who, "at": a.at.isoformat(), "note": a.note, "target_id": a.target_id}
            for a in incident.acknowledgements
        ],
        "answers": [
            {
                "event_type": a.event_type,
                "by": a.who,
                "at": a.at.isoformat(),
                "reason": a.reason,
                "target_id": a.target_id,
                "event_id": a.event_id,
            }
            for a in incident.answers
        ],
        "facets": [
            {
                "status": f.status,
                "opened_at": f.opened_at.isoformat(),
                "resolved_at": _iso(f.resolved_at),
                **f.data.model_dump(mode="json"),
            }
            for f in incident.facets
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
