"""The metrics service's HTTP door (OpenAPI at /docs) and wiring."""

import asyncio
from enum import Enum
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from truenorth.bus.atomic import enable_atomic_publish
from truenorth.bus.deadletter import IntakeCounters
from truenorth.bus.streams import METRICS
from truenorth.cloud_events import is_cloudevent
from truenorth.contract.metrics import Observation
from truenorth.http import problem
from truenorth.metrics.cloudevents_rows import cloudevent_rows, with_event_errors
from truenorth.metrics.domain import (
    BodyError,
    body_format,
    decompress,
    split_rows,
    validate_rows,
)
from truenorth.metrics.ingest import Ingestor
from truenorth.metrics.intake import register_intake
from truenorth.metrics.ledger import Ledger
from truenorth.metrics.roster import CampaignRoster
from truenorth.runtime import Runtime, build_runtime, create_app
from truenorth.settings import MetricsSettings, SharedSettings, sqlite_url
from truenorth.store.db import make_engine, migrate

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Workspace = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64, description="workspace")]
ObservationIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=128)]
VALIDATE_IN_THREAD_ROWS = 5_000

DESCRIPTION = """\
Metric observations from ad platforms and analytics exports, recorded on the `METRICS` stream
(`tn.<workspace>.metrics.<campaign_id>`).

`POST` a JSON array of observations, or NDJSON (`Content-Type: application/x-ndjson`), optionally
gzip-compressed (`Content-Encoding: gzip`). Each row is validated on its own: valid rows are
stored, invalid rows are answered with their `index` (and `line` for NDJSON) and field messages,
and kept in the DLQ. Counts: `accepted` (new observations), `restated` (an `observation_id` seen
before with another value: `MetricRestated`, the latest value counts once), `duplicates` (same id,
same value: no-op), `rejected`.

* 2xx only after JetStream acknowledged every stored row; otherwise **503** + `Retry-After` and
  nothing recorded — retry the same body: event ids are derived from the rows, so nothing is
  stored twice.
* Too many bytes (also after gzip) or rows → **413** before any row is validated.
* If every row of a non-empty batch is rejected the status is **422** (same body shape).
* The same rows are accepted over NATS on `tn.<workspace>.intake.metrics`.
"""


class FieldMessage(BaseModel):
    field: str
    message: str


class RowErrors(BaseModel):
    index: int
    line: int | None = None
    errors: list[FieldMessage]


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    restated: int
    rejected: int
    errors: list[RowErrors]
    unknown_campaigns: list[str] = []
    """Campaign ids of stored rows that truenorth has no campaign for: kept, and counted as
    soon as the campaign is launched (GET …/metrics/unknown-campaigns lists them all)."""


class UnknownCampaign(BaseModel):
    campaign_id: str
    events: int
    """Metric events stored for it (observations and restatements)."""


class UnknownCampaigns(BaseModel):
    workspace: str
    unknown_campaigns: list[UnknownCampaign]


class LedgerEntry(BaseModel):
    workspace: str
    observation_id: str
    value: float
    event_id: str


class Problem(BaseModel):
    detail: str
    errors: list[dict[str, Any]] | None = None


_OBSERVATION_SCHEMA = Observation.model_json_schema(ref_template="#/components/schemas/{model}")
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Observation"}}
            },
            "application/x-ndjson": {
                "schema": {"$ref": "#/components/schemas/Observation"},
                "example": '{"observation_id":"gads:123:2025-03-01:conversions",'
                '"campaign_id":"spring-sale","metric":"conversions","value":42,'
                '"period_start":"2025-03-01T00:00:00Z","period_end":"2025-03-02T00:00:00Z",'
                '"source":"google-ads"}\n',
            },
        },
    }
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "too many bytes (also after gzip) or rows"},
    415: {"model": Problem, "description": "unsupported Content-Type or Content-Encoding"},
    422: {"model": IngestResponse, "description": "body not JSON, or every row rejected"},
    503: {"model": Problem, "description": "JetStream unavailable: retry the same request"},
}


async def migrate_with_retry(engine: Engine, attempts: int = 8) -> None:
    """Services sharing one PostgreSQL database migrate at the same moment under `truenorth up`;
    the loser of the CREATE race fails, and on retry finds the schema at head.
    TODO(lead): serialise `truenorth.store.db.migrate` with `pg_advisory_xact_lock` instead."""
    for attempt in range(attempts):
        try:
            await asyncio.to_thread(migrate, engine)
            return
        except DBAPIError:
            if attempt + 1 == attempts:
                raise
            await asyncio.sleep(0.3 * (attempt + 1))


def build_app(shared: SharedSettings, settings: MetricsSettings) -> FastAPI:
    runtime: Runtime = build_runtime("metrics", shared, settings)
    engine = make_engine(settings.database_url or sqlite_url(shared.data_dir, "metrics"))
    ledger = Ledger(engine)
    counters = IntakeCounters(runtime.registry)
    ingestor = Ingestor(
        lambda: runtime.nc, ledger, counters, max_in_flight=settings.max_in_flight_publishes
    )
    roster = CampaignRoster(lambda: runtime.js, runtime.registry)
    runtime.state.update(ledger=ledger, ingestor=ingestor, counters=counters, roster=roster)
    register_intake(runtime, ingestor, counters, settings.max_rows_per_request)

    async def on_start(_runtime: Runtime) -> None:
        await migrate_with_retry(engine)
        ingestor.atomic = await enable_atomic_publish(runtime.js, METRICS.name)
        await roster.start()

    async def on_stop(_runtime: Runtime) -> None:
        await roster.stop()
        engine.dispose()

    app = create_app(
        runtime,
        title="truenorth metrics",
        description=DESCRIPTION,
        on_start=on_start,
        on_stop=on_stop,
    )

    def _add_schema() -> dict[str, Any]:
        schema = original_openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in _OBSERVATION_SCHEMA.get("$defs", {}).items():
            components.setdefault(name, definition)
        components["Observation"] = {k: v for k, v in _OBSERVATION_SCHEMA.items() if k != "$defs"}
        return schema

    original_openapi = app.openapi
    app.openapi = _add_schema  # type: ignore[method-assign]

    async def ingest_http(ws: str, request: Request) -> JSONResponse:
        refusal = await runtime.unknown_workspace(ws)
        if refusal is not None:
            return problem(404, refusal, [{"field": "ws", "message": refusal, "type": "workspace"}])
        body = await request.body()
        event_errors: dict[int, list[dict[str, str]]] = {}
        try:
            body = decompress(
                body, request.headers.get("content-encoding"), settings.max_request_bytes
            )
            if is_cloudevent(request.headers):
                rows, event_errors = cloudevent_rows(
                    request.headers, body, settings.max_rows_per_request
                )
            else:
                fmt = body_format(request.headers.get("content-type"))
                rows = split_rows(body, fmt, settings.max_rows_per_request)
        except BodyError as exc:
            errors = None
            if exc.status == 422:
                errors = [{"field": "(body)", "message": exc.message, "type": "body"}]
            return problem(exc.status, exc.message, errors)
        if len(rows) > VALIDATE_IN_THREAD_ROWS:
            validated = await asyncio.to_thread(validate_rows, rows)
        else:
            validated = validate_rows(rows)
        validated = with_event_errors(validated, event_errors)
        actor = (request.headers.get("x-actor") or "metrics-http")[:200]
        result = await ingestor.ingest(
            ws,
            validated.valid,
            validated.rejected,
            door="http",
            origin=f"http:{request.url.path}",
            actor=actor,
            dead_letter_rows=True,
        )
        payload = result.as_dict()
        named = {obs.campaign_id for _, obs in validated.valid}
        payload["unknown_campaigns"] = await roster.unknown(ws, named) if named else []
        if rows and not validated.valid:
            payload = {"detail": "every row was rejected", **payload}
            return JSONResponse(payload, status_code=422)
        return JSONResponse(payload)

    tags: list[str | Enum] = ["metrics"]

    @app.post(
        "/v1/workspaces/{ws}/metrics",
        tags=tags,
        response_model=IngestResponse,
        responses=RESPONSES,
        openapi_extra=REQUEST_BODY,
        summary="Ingest observations (JSON array or NDJSON, optionally gzip)",
    )
    async def post_metrics(ws: Workspace, request: Request) -> Any:
        return await ingest_http(ws, request)

    @app.post(
        "/v1/metrics",
        tags=tags,
        response_model=IngestResponse,
        responses=RESPONSES,
        openapi_extra=REQUEST_BODY,
        summary="Ingest observations into the default workspace (TRUENORTH_WORKSPACE)",
    )
    async def post_metrics_default(request: Request) -> Any:
        return await ingest_http(shared.workspace, request)

    @app.get(
        "/v1/workspaces/{ws}/metrics/observations/{observation_id}",
        tags=tags,
        response_model=LedgerEntry,
        responses={404: {"model": Problem}},
        summary="The latest recorded value of an observation (from the ledger)",
    )
    async def get_observation(ws: Workspace, observation_id: ObservationIdPath) -> Any:
        entry = await asyncio.to_thread(ledger.get, ws, observation_id)
        if entry is None:
            return problem(404, f"observation {observation_id!r} not recorded in {ws!r}")
        value, event_id = entry
        return {
            "workspace": ws,
            "observation_id": observation_id,
            "value": value,
            "event_id": event_id,
        }

    @app.get(
        "/v1/workspaces/{ws}/metrics/unknown-campaigns",
        tags=tags,
        response_model=UnknownCampaigns,
        summary="Campaign ids with observations but no campaign (they wait, then count)",
    )
    async def unknown_campaigns(ws: Workspace) -> Any:
        orphans = await roster.orphans(ws)
        return {
            "workspace": ws,
            "unknown_campaigns": [
                {"campaign_id": campaign, "events": count} for campaign, count in orphans.items()
            ],
        }

    return app
