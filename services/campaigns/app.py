"""The campaigns service's HTTP door (OpenAPI at /docs) and wiring."""

from enum import Enum
from typing import Annotated, Any

import orjson
from fastapi import Body, FastAPI, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from truenorth.bus.deadletter import IntakeCounters
from truenorth.bus.streams import CAMPAIGNS, aggregate_subject
from truenorth.campaigns.domain import (
    ActivateCampaign,
    ChangeBudget,
    CommandMeta,
    ConcludeExperiment,
    DomainError,
    EndCampaign,
    LaunchCampaign,
    LaunchCreative,
    LinkObjective,
    PauseCampaign,
    ResumeCampaign,
    RetireCreative,
    UnlinkObjective,
)
from truenorth.campaigns.intake import Rejected, parse_command, register_intake
from truenorth.campaigns.objectives import StrategyFollower
from truenorth.campaigns.service import CampaignService
from truenorth.cloud_events import (
    BATCH,
    STRUCTURED,
    CloudEventInvalid,
    Envelope,
    campaign_command,
    is_cloudevent,
    media_type,
    read_events,
)
from truenorth.http import attributed_actor, problem
from truenorth.runtime import Runtime, build_runtime, create_app
from truenorth.settings import CampaignsSettings, SharedSettings

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Workspace = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64, description="workspace")]
CampaignId = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)]
ChildId = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)]

DESCRIPTION = """\
Campaign lifecycle, objective links, creatives and budget changes, recorded as events on the
`CAMPAIGNS` stream (`tn.<workspace>.campaigns.<campaign_id>`).

* Every command may carry an `event_id` (UUID): a retry with the same id is answered with the
  original outcome and `duplicate: true`, never a second event.
* A concurrent change of the same campaign is a **409**; re-read and retry.
* The state machine refuses impossible transitions with a **409** naming the current status.
* Linking an unknown or retired objective is a **422** naming it. A campaign with no active
  objective is accepted and marked `untethered: true` (alignment flags it).
* The same commands are accepted over NATS on `tn.<workspace>.intake.campaigns`
  (`{"command": "<name>", "campaign_id": ..., ...}`); rejects go to the DLQ.
"""


class CreativeView(BaseModel):
    creative_id: str
    variant: str
    message: str
    status: str


class ExperimentView(BaseModel):
    experiment_id: str
    winner_creative_id: str
    loser_creative_ids: list[str]
    metric: str
    lift_pct: float | None


class CampaignView(BaseModel):
    workspace: str
    campaign_id: str
    name: str
    status: str
    objective_ids: list[str]
    untethered: bool
    channel: str
    segment: str
    budget: float
    start: str
    end: str
    owner: str
    creatives: list[CreativeView]
    experiments: list[ExperimentView]
    launched_at: str
    updated_at: str
    version: int


class CampaignList(BaseModel):
    workspace: str
    campaigns: list[CampaignView]


class EventRef(BaseModel):
    event_id: str
    type: str | None
    sequence: int


class CommandResult(BaseModel):
    campaign: CampaignView
    event: EventRef
    untethered: bool
    duplicate: bool


class Problem(BaseModel):
    detail: str
    errors: list[dict[str, Any]] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "campaign not found"},
    409: {"model": Problem, "description": "state machine refusal or concurrent change"},
    422: {"model": Problem, "description": "invalid command, unknown or retired objective"},
    503: {"model": Problem, "description": "event store unavailable; retry (Retry-After)"},
}


def build_app(shared: SharedSettings, settings: CampaignsSettings) -> FastAPI:
    runtime: Runtime = build_runtime("campaigns", shared, settings)
    follower = StrategyFollower(lambda: runtime.store)
    service = CampaignService(lambda: runtime.store, follower)
    counters = IntakeCounters(runtime.registry)
    runtime.state.update(follower=follower, service=service, counters=counters)
    runtime.checks["strategy_stream"] = follower.health
    register_intake(runtime, service, counters)

    async def on_start(_runtime: Runtime) -> None:
        await follower.start()

    async def on_stop(_runtime: Runtime) -> None:
        await follower.stop()

    app = create_app(
        runtime,
        title="truenorth campaigns",
        description=DESCRIPTION,
        on_start=on_start,
        on_stop=on_stop,
    )

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.message, exc.errors)

    async def run(ws: str, campaign_id: str, command: CommandMeta, status: int = 200) -> Any:
        refusal = await runtime.unknown_workspace(ws)
        if refusal is not None:
            return problem(404, refusal, [{"field": "ws", "message": refusal, "type": "workspace"}])
        command = command.model_copy(update={"actor": attributed_actor(command.actor)})
        outcome = await service.handle(ws, campaign_id, command)
        code = 200 if outcome.duplicate else status
        return JSONResponse(outcome.as_dict(follower), status_code=code)

    base = "/v1/workspaces/{ws}/campaigns"
    tags: list[str | Enum] = ["campaigns"]

    @app.post(
        base,
        tags=tags,
        status_code=201,
        response_model=CommandResult,
        responses=ERRORS,
        summary="Launch a campaign (status planned or live)",
    )
    async def launch(ws: Workspace, command: LaunchCampaign) -> Any:
        return await run(ws, command.campaign_id, command, 201)

    @app.post(
        base + "/events",
        tags=tags,
        responses=ERRORS,
        summary="Campaign commands as CloudEvents: structured, batched or binary (ce-* headers)",
    )
    async def cloud_events(ws: Workspace, request: Request) -> Any:
        if not is_cloudevent(request.headers):
            return problem(
                415,
                f"send CloudEvents: Content-Type {STRUCTURED} or {BATCH}, or ce-* headers",
            )
        events = read_events(request.headers, await request.body())
        results = [await _one_event(ws, index, event) for index, (_, event) in enumerate(events)]
        if media_type(request.headers) == BATCH:
            return JSONResponse({"results": results})
        (result,) = results
        status = result.pop("status")
        result.pop("index")
        return JSONResponse(result, status_code=status)

    async def _one_event(ws: str, index: int, event: Envelope | CloudEventInvalid) -> dict:
        try:
            if isinstance(event, CloudEventInvalid):
                raise event
            campaign_id, command = parse_command(orjson.dumps(campaign_command(event)))
            outcome = await service.handle(ws, campaign_id, command)
        except CloudEventInvalid as exc:
            return {
                "index": index,
                "status": 422,
                "detail": "invalid CloudEvent",
                "errors": exc.errors,
            }
        except Rejected as exc:
            return {"index": index, "status": 422, "detail": exc.message, "errors": exc.errors}
        except DomainError as exc:
            return {
                "index": index,
                "status": exc.status,
                "detail": exc.message,
                "errors": exc.errors,
            }
        status = 200 if outcome.duplicate or command.__class__ is not LaunchCampaign else 201
        return {"index": index, "status": status, **outcome.as_dict(follower)}

    @app.get(
        base,
        tags=tags,
        response_model=CampaignList,
        summary="The workspace's campaigns, each rebuilt from its events (by campaign id)",
    )
    async def list_campaigns(ws: Workspace, status: str | None = None) -> Any:
        info = await runtime.js.stream_info(
            CAMPAIGNS.name, subjects_filter=aggregate_subject(ws, CAMPAIGNS.context, "*")
        )
        ids = sorted(subject.rsplit(".", 1)[1] for subject in (info.state.subjects or {}))
        items = []
        for campaign_id in ids:
            state = await service.load(ws, campaign_id)
            if state is not None and (status is None or state.status == status):
                items.append(state.as_dict(follower.directory))
        return {"workspace": ws, "campaigns": items}

    @app.get(
        base + "/{campaign_id}",
        tags=tags,
        response_model=CampaignView,
        responses=ERRORS,
        summary="A campaign's current state, rebuilt from its events",
    )
    async def get_campaign(ws: Workspace, campaign_id: CampaignId) -> Any:
        state = await service.load(ws, campaign_id)
        if state is None:
            return problem(404, f"campaign {campaign_id!r} not found")
        return state.as_dict(follower.directory)

    @app.post(
        base + "/{campaign_id}/objectives",
        tags=tags,
        response_model=CommandResult,
        responses=ERRORS,
        summary="Link an active objective",
    )
    async def link_objective(ws: Workspace, campaign_id: CampaignId, command: LinkObjective) -> Any:
        return await run(ws, campaign_id, command)

    @app.delete(
        base + "/{campaign_id}/objectives/{objective_id}",
        tags=tags,
        response_model=CommandResult,
        responses=ERRORS,
        summary="Unlink an objective",
    )
    async def unlink_objective(
        ws: Workspace,
        campaign_id: CampaignId,
        objective_id: ChildId,
        meta: Annotated[CommandMeta | None, Body()] = None,
    ) -> Any:
        command = UnlinkObjective(objective_id=objective_id, **_meta(meta))
        return await run(ws, campaign_id, command)

    @app.post(
        base + "/{campaign_id}/budget",
        tags=tags,
        response_model=CommandResult,
        responses=ERRORS,
        summary="Change the campaign's budget",
    )
    async def change_budget(ws: Workspace, campaign_id: CampaignId, command: ChangeBudget) -> Any:
        return await run(ws, campaign_id, command)

    for verb, model, summary in (
        ("activate", ActivateCampaign, "Activate a planned campaign (planned → live)"),
        ("pause", PauseCampaign, "Pause a live campaign"),
        ("resume", ResumeCampaign, "Resume a paused campaign"),
        ("end", EndCampaign, "End the campaign (final)"),
    ):
        _state_route(app, base, verb, model, summary, run)

    @app.post(
        base + "/{campaign_id}/creatives",
        tags=tags,
        response_model=CommandResult,
        responses=ERRORS,
        summary="A creative (variant, message) was launched",
    )
    async def launch_creative(
        ws: Workspace, campaign_id: CampaignId, command: LaunchCreative
    ) -> Any:
        return await run(ws, campaign_id, command)

    @app.post(
        base + "/{campaign_id}/creatives/{creative_id}/retire",
        tags=tags,
        response_model=CommandResult,
        responses=ERRORS,
        summary="A creative was retired",
    )
    async def retire_creative(
        ws: Workspace,
        campaign_id: CampaignId,
        creative_id: ChildId,
        meta: Annotated[CommandMeta | None, Body()] = None,
    ) -> Any:
        return await run(ws, campaign_id, RetireCreative(creative_id=creative_id, **_meta(meta)))

    @app.post(
        base + "/{campaign_id}/experiments",
        tags=tags,
        response_model=CommandResult,
        responses=ERRORS,
        summary="An A/B experiment concluded (winner and losers)",
    )
    async def conclude_experiment(
        ws: Workspace, campaign_id: CampaignId, command: ConcludeExperiment
    ) -> Any:
        return await run(ws, campaign_id, command)

    return app


def _meta(meta: CommandMeta | None) -> dict[str, Any]:
    return meta.model_dump(exclude_unset=True) if meta is not None else {}


def _state_route(
    app: FastAPI, base: str, verb: str, model: type[CommandMeta], summary: str, run: Any
) -> None:
    async def endpoint(
        ws: Workspace,
        campaign_id: CampaignId,
        command: Annotated[model | None, Body()] = None,  # type: ignore[valid-type]
    ) -> Any:
        return await run(ws, campaign_id, command if command is not None else model())

    endpoint.__name__ = f"{verb}_campaign"
    app.post(
        base + "/{campaign_id}/" + verb,
        tags=["campaigns"],
        response_model=CommandResult,
        responses=ERRORS,
        summary=summary,
    )(endpoint)
