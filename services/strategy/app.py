"""The strategy service's HTTP door: the living strategy document, event-sourced, with the
feedback inbox. Thin: each route turns a request into a domain command and hands it on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from truenorth.bus.streams import STRATEGY, aggregate_subject
from truenorth.http import problem
from truenorth.runtime import build_runtime, create_app
from truenorth.settings import SharedSettings, StrategySettings
from truenorth.strategy.domain import (
    Attribution,
    DocumentInvalid,
    DomainError,
    DriftNotFound,
    FieldError,
    Strategy,
    StrategyEvent,
    StrategyNotFound,
    UnknownDriftAnswered,
    load_document,
    overwrites,
    parse_document,
    plan_changes,
)
from truenorth.strategy.domain.document import decode_document
from truenorth.strategy.inbox import Inbox, drift_exists, subscribe_inbox
from truenorth.strategy.repository import (
    Saved,
    StaleVersion,
    StrategyRepository,
    check_if_match,
    etag,
)
from truenorth.strategy.schemas import (
    AcknowledgeBody,
    CheckInBody,
    GuardrailsBody,
    HeaderBody,
    ObjectiveBody,
    ObjectivePatch,
    PeriodBody,
    ReasonBody,
)
from truenorth.strategy.views import (
    checkins_view,
    history_view,
    inbox_view,
    incidents_view,
    strategy_view,
)

SLUG = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Workspace = Annotated[str, Path(pattern=SLUG, max_length=64)]
Ident = Annotated[str, Path(pattern=SLUG, max_length=64)]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read")]
Actor = Annotated[str, Header(alias="X-Actor", max_length=200, description="who makes the change")]
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")

DESCRIPTION = """\
The living strategy document: mission, value proposition, key messages, target segments,
allowed channels, planning periods with budget and channel mix, objectives and guardrails.
Every change is an event on the `STRATEGY` stream (`tn.<workspace>.strategy.<strategy_id>`).

* Reads return the aggregate version as an `ETag`; a write with a stale `If-Match` is a **412**,
  a concurrent append a **409**; neither changes anything.
* `X-Actor` names who makes a change; bodies carry `reason` and, when a change answers a drift,
  `in_response_to`.
* Alignment's drifts arrive in the feedback inbox and are shown next to their objective.
"""


class OverwriteRefused(DomainError):
    status = 409
    reason = "conflict"


def build_app(shared: SharedSettings, settings: StrategySettings) -> FastAPI:
    runtime = build_runtime("strategy", shared, settings)
    inbox = Inbox()
    subscribe_inbox(runtime.broker, inbox)
    app = create_app(runtime, title="truenorth strategy", description=DESCRIPTION)
    app.state.inbox = inbox

    @app.exception_handler(DomainError)
    async def _refused(_request: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.message, exc.error_dicts())

    @app.exception_handler(StaleVersion)
    async def _stale(_request: Request, exc: StaleVersion) -> JSONResponse:
        return problem(412, str(exc), None, ETag=etag(exc.current))

    app.include_router(list_route())
    app.include_router(routes())
    return app


def list_route() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/workspaces/{workspace}/strategies",
        tags=["strategy"],
        summary="The workspace's strategies: id, name, version, active objectives",
    )
    async def list_strategies(request: Request, workspace: Workspace) -> dict[str, Any]:
        runtime = request.app.state.runtime
        info = await runtime.js.stream_info(
            STRATEGY.name, subjects_filter=aggregate_subject(workspace, STRATEGY.context, "*")
        )
        ids = sorted(subject.rsplit(".", 1)[1] for subject in (info.state.subjects or {}))
        items = []
        for strategy_id in ids:
            strategy = (await repository(request).load(workspace, strategy_id)).strategy
            if not strategy.defined:
                continue
            items.append(
                {
                    "strategy_id": strategy_id,
                    "name": strategy.header.name if strategy.header else strategy_id,
                    "version": strategy.version,
                    "objectives": sorted(
                        o.objective_id for o in strategy.objectives.values() if not o.retired
                    ),
                }
            )
        return {"workspace": workspace, "strategies": items}

    return router


def repository(request: Request) -> StrategyRepository:
    return StrategyRepository(request.app.state.runtime.store)


def written(saved: Saved, status: int = 200, inbox: Inbox | None = None) -> JSONResponse:
    if inbox is not None:
        for event in saved.events:  # read-your-writes; the subscription's copy is a duplicate
            inbox.apply(event)
    body = {
        "version": saved.strategy.version,
        "events": [{"event_id": str(e.event_id), "type": e.type} for e in saved.events],
    }
    return JSONResponse(body, status_code=status, headers={"ETag": etag(saved.strategy.version)})


def by(actor: str, body: Any) -> Attribution:
    return Attribution(
        actor=actor,
        reason=getattr(body, "reason", "") or "",
        in_response_to=getattr(body, "in_response_to", None),
    )


async def check_answers(request: Request, workspace: str, in_response_to: object) -> None:
    """A change may only claim to answer a drift or incident that exists in its workspace."""
    if in_response_to is None:
        return
    target = str(in_response_to)
    store = request.app.state.runtime.store
    if not await drift_exists(store, request.app.state.inbox, workspace, target):
        message = f"no drift or incident {target!r} in workspace {workspace!r}"
        raise UnknownDriftAnswered(message, [FieldError("in_response_to", message, "not_found")])


async def attributed(request: Request, workspace: str, actor: str, body: Any) -> Attribution:
    who = by(actor, body)
    await check_answers(request, workspace, who.in_response_to)
    return who


def routes() -> APIRouter:
    router = APIRouter(prefix="/v1/workspaces/{workspace}/strategies/{strategy_id}")
    tags: list[str | Any] = ["strategy"]

    async def run(
        request: Request,
        workspace: str,
        strategy_id: str,
        command: Callable[[Strategy], list[StrategyEvent]],
        if_match: str | None,
        status: int = 200,
    ) -> JSONResponse:
        saved = await repository(request).execute(workspace, strategy_id, command, if_match)
        return written(saved, status, request.app.state.inbox)

    @router.get("", tags=tags, summary="The current strategy, with open drifts per objective")
    async def read_strategy(
        request: Request, response: Response, workspace: Workspace, strategy_id: Ident
    ) -> dict[str, Any]:
        loaded = await repository(request).load(workspace, strategy_id)
        if not loaded.strategy.defined:
            raise StrategyNotFound(f"strategy {strategy_id!r} is not defined in {workspace!r}")
        response.headers["ETag"] = etag(loaded.strategy.version)
        return strategy_view(loaded.strategy, request.app.state.inbox)

    @router.put("", tags=tags, summary="Define the strategy, or revise its header")
    async def put_strategy(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        body: HeaderBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        header = body.model_dump(exclude={"reason", "in_response_to"}, exclude_unset=True)
        who = await attributed(request, workspace, actor, body)
        loaded = await repository(request).load(workspace, strategy_id)
        check_if_match(if_match, loaded.strategy.version)
        if loaded.strategy.defined:
            events = loaded.strategy.revise_header(header, by=who)
            status = 200
        else:
            events = loaded.strategy.define_strategy(
                body.model_dump(exclude={"reason", "in_response_to"}), by=who
            )
            status = 201
        saved = await repository(request).save(loaded, events)
        return written(saved, status, request.app.state.inbox)

    @router.post("/objectives", tags=tags, status_code=201, summary="Add an objective")
    async def add_objective(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        body: ObjectiveBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        spec = body.to_spec()
        who = await attributed(request, workspace, actor, body)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.add_objective(spec, by=who),
            if_match,
            201,
        )

    @router.patch("/objectives/{objective_id}", tags=tags, summary="Revise an objective")
    async def revise_objective(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        objective_id: Ident,
        body: ObjectivePatch,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        changes = body.changes()
        who = await attributed(request, workspace, actor, body)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.revise_objective(objective_id, changes, by=who),
            if_match,
        )

    @router.post("/objectives/{objective_id}/retire", tags=tags, summary="Retire an objective")
    async def retire_objective(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        objective_id: Ident,
        body: Annotated[ReasonBody, Body()] = ReasonBody(),
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        who = await attributed(request, workspace, actor, body)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.retire_objective(objective_id, by=who),
            if_match,
        )

    @router.get(
        "/objectives/{objective_id}/history",
        tags=tags,
        summary="Who changed the objective, when, why, and what changed",
    )
    async def objective_history(
        request: Request, workspace: Workspace, strategy_id: Ident, objective_id: Ident
    ) -> dict[str, Any]:
        loaded = await repository(request).load(workspace, strategy_id)
        return history_view(loaded.strategy, objective_id)

    @router.post(
        "/objectives/{objective_id}/checkins",
        tags=tags,
        status_code=201,
        summary="Check in on an objective: the owner's confidence, narrative and, with its "
        "source, a corrected figure (404 for an unknown or retired objective)",
    )
    async def check_in(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        objective_id: Ident,
        body: CheckInBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.check_in(
                objective_id,
                confidence=body.confidence,
                narrative=body.narrative,
                corrected_value=body.corrected_value,
                source=body.source,
                by=by(actor, body),
            ),
            if_match,
            201,
        )

    @router.get(
        "/objectives/{objective_id}/checkins",
        tags=tags,
        summary="The objective's check-ins, newest first",
    )
    async def checkins(
        request: Request, workspace: Workspace, strategy_id: Ident, objective_id: Ident
    ) -> dict[str, Any]:
        loaded = await repository(request).load(workspace, strategy_id)
        if not loaded.strategy.defined:
            raise StrategyNotFound(f"strategy {strategy_id!r} is not defined in {workspace!r}")
        return checkins_view(loaded.strategy, objective_id)

    @router.put("/periods/{period_id}", tags=tags, summary="Plan a period's budget and mix")
    async def plan_period(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        period_id: Ident,
        body: PeriodBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        period = body.to_plan(period_id)
        who = await attributed(request, workspace, actor, body)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.plan_budget(period, by=who),
            if_match,
        )

    @router.delete("/periods/{period_id}", tags=tags, summary="Remove a planning period")
    async def remove_period(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        period_id: Ident,
        reason: Annotated[str, Query(max_length=4000)] = "",
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        note = ReasonBody(reason=reason)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.remove_period(period_id, by=by(actor, note)),
            if_match,
        )

    @router.put("/guardrails", tags=tags, summary="Set the strategy's guardrails")
    async def set_guardrails(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        body: GuardrailsBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        who = await attributed(request, workspace, actor, body)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.set_guardrails(body.guardrails(), by=who),
            if_match,
        )

    @router.put(
        "/objectives/{objective_id}/guardrails",
        tags=tags,
        summary="Override guardrails for one objective",
    )
    async def set_objective_guardrails(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        objective_id: Ident,
        body: GuardrailsBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        who = await attributed(request, workspace, actor, body)
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.set_guardrails(body.guardrails(), objective_id=objective_id, by=who),
            if_match,
        )

    @router.post(
        "/apply",
        tags=tags,
        summary="Apply a whole strategy document (YAML or JSON): plan, then append the changes",
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
                "required": True,
            }
        },
    )
    async def apply_document(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        dry_run: bool = False,
        strict: Annotated[
            bool,
            Query(description="409 instead of overwriting changes made through the API"),
        ] = False,
        reason: Annotated[str, Query(max_length=4000)] = "",
        in_response_to: Annotated[str | None, Query(max_length=64)] = None,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        document = await read_document(request)
        if document.id != strategy_id:
            raise DocumentInvalid(
                "request body",
                [
                    FieldError(
                        "id",
                        f"the document is strategy {document.id!r}, not {strategy_id!r}",
                        "mismatch",
                    )
                ],
            )
        await check_answers(request, workspace, in_response_to)
        repo = repository(request)
        loaded = await repo.load(workspace, strategy_id)
        check_if_match(if_match, loaded.strategy.version)
        plan = plan_changes(
            document,
            loaded.strategy if loaded.strategy.defined else None,
            actor,
            reason,
            in_response_to=in_response_to,
            workspace=workspace,
        )
        version = loaded.strategy.version
        overwritten = [item.render() for item in overwrites(plan, loaded.events, workspace)]
        if strict and overwritten and not dry_run:
            errors = [FieldError("(document)", text, "overwrite") for text in overwritten]
            raise OverwriteRefused(
                f"{len(overwritten)} change(s) made through the API since the document was "
                "last applied would be overwritten (strict)",
                errors,
            )
        if not dry_run and not plan.is_empty:
            saved = await repo.save(loaded, plan.events)
            for event in saved.events:
                request.app.state.inbox.apply(event)
            version = saved.strategy.version
        body = {
            "dry_run": dry_run,
            "plan": plan.render(),
            "summary": plan.summary(),
            "added": plan.added,
            "revised": plan.revised,
            "retired": plan.retired,
            "removed": plan.removed,
            "appended": 0 if dry_run else len(plan.events),
            "overwrites": overwritten,
            "version": version,
        }
        return JSONResponse(body, headers={"ETag": etag(version)})

    @router.get("/drifts", tags=["feedback inbox"], summary="Drifts alignment raised")
    async def drifts(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        status: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
    ) -> dict[str, Any]:
        loaded = await repository(request).load(workspace, strategy_id)
        return inbox_view(loaded.strategy, request.app.state.inbox, status)

    @router.post(
        "/drifts/{drift_id}/acknowledge",
        tags=["feedback inbox"],
        summary="Acknowledge a drift or an incident with a note (404 if it does not exist); "
        "acknowledgements accumulate",
    )
    async def acknowledge(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        drift_id: Ident,
        body: AcknowledgeBody,
        actor: Actor = "api",
        if_match: IfMatch = None,
    ) -> JSONResponse:
        inbox: Inbox = request.app.state.inbox
        if not await drift_exists(request.app.state.runtime.store, inbox, workspace, drift_id):
            raise DriftNotFound(f"no drift or incident {drift_id!r} in workspace {workspace!r}")
        who = await attributed(request, workspace, actor, body)
        known = inbox.get(workspace, drift_id)
        objective_id = known.data.objective_id if known else None
        return await run(
            request,
            workspace,
            strategy_id,
            lambda s: s.acknowledge_drift(
                drift_id, objective_id=objective_id, note=body.note, by=who
            ),
            if_match,
        )

    @router.get(
        "/incidents",
        tags=["feedback inbox"],
        summary="Incidents: drifts with one cause, grouped, with their acknowledgements "
        "and the revisions that answered them",
    )
    async def incidents(
        request: Request,
        workspace: Workspace,
        strategy_id: Ident,
        status: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
    ) -> dict[str, Any]:
        loaded = await repository(request).load(workspace, strategy_id)
        return incidents_view(loaded.strategy, request.app.state.inbox, status)

    return router


async def read_document(request: Request) -> Any:
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in YAML_TYPES or not content_type:
        return load_document(decode_document(raw, "request body"), "request body")
    try:
        import orjson

        data = orjson.loads(raw)
    except ValueError as exc:
        raise DocumentInvalid(
            "request body", [FieldError("(body)", f"not valid JSON: {exc}", "json_invalid")]
        ) from None
    return parse_document(data, filename="request body")
