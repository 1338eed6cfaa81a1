"""The alignment service: projector + drift ticks + Prometheus exposition + read API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request

from truenorth.alignment.domain.snapshot import ObjectiveSnapshot, Snapshot
from truenorth.alignment.exposition import render_exposition, select
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector
from truenorth.alignment.store.drifts import DriftEntry, drift_entries
from truenorth.alignment.store.read import Moment
from truenorth.alignment.views import parse_moment, past_snapshot
from truenorth.alignment.web import web_router
from truenorth.contract.envelope import utcnow
from truenorth.runtime import Runtime, build_runtime, create_app
from truenorth.settings import AlignmentSettings, SharedSettings, sqlite_url
from truenorth.store.db import make_engine, migrate

log = structlog.get_logger()
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return utcnow()  # the process clock: wall time, or the demo's accelerated one


def build_app(
    shared: SharedSettings, settings: AlignmentSettings, clock: Clock = utc_now
) -> FastAPI:
    runtime = build_runtime("alignment", shared, settings)
    engine = make_engine(settings.database_url or sqlite_url(shared.data_dir, "alignment"))
    metrics = PipelineMetrics.register(runtime.registry)
    holder: dict[str, Projector] = {}

    loading = render_exposition(Snapshot(at=clock()))  # every family declared, no samples yet

    def current_exposition(names: frozenset[str] | None) -> list[bytes]:
        projector = holder.get("projector")
        return select(projector.exposition if projector else loading, names)

    runtime.expositions.append(current_exposition)

    async def on_start(rt: Runtime) -> None:
        await asyncio.to_thread(migrate, engine)
        projector = Projector(
            rt.js,
            engine,
            metrics,
            clock,
            batch_size=settings.batch_size,
            ack_wait=settings.ack_wait_seconds,
            stall_seconds=settings.stall_seconds,
            dlq_workspace=shared.workspace,
        )
        await projector.start()
        holder["projector"] = projector
        rt.state["ticker"] = asyncio.create_task(_tick_forever(projector, settings.tick_seconds))
        rt.checks["consumers"] = lambda: _consumers_flowing(projector)

    async def on_stop(rt: Runtime) -> None:
        ticker = rt.state.get("ticker")
        if ticker is not None:
            ticker.cancel()
            await asyncio.wait([ticker], timeout=settings.shutdown_grace_seconds)
        if "projector" in holder:
            try:
                await asyncio.wait_for(
                    holder["projector"].stop(), timeout=settings.shutdown_grace_seconds
                )
            except TimeoutError:
                log.error("projector did not stop in time; its batch in flight is redelivered")
        engine.dispose()

    app = create_app(
        runtime,
        title="truenorth alignment",
        description="Live objective progress, drift detection and Prometheus exposition.",
        on_start=on_start,
        on_stop=on_stop,
    )
    app.state.projector = holder
    app.state.clock = clock
    app.state.engine = engine
    app.include_router(read_api())
    app.include_router(web_router())
    return app


def _consumers_flowing(projector: Projector) -> tuple[bool, str]:
    stalled = projector.stalled_streams()
    return (not stalled, "stalled: " + ", ".join(stalled) if stalled else "flowing")


EVENT_EVALUATION_GAP = 0.5
"""Seconds at least between drift evaluations triggered by folded events."""


async def _tick_forever(projector: Projector, seconds: float) -> None:
    """Evaluate drift every `seconds` (time-based conditions move without events) and soon
    after events are folded: debounced, at least EVENT_EVALUATION_GAP and four times the last
    evaluation's cost apart, so a large projection is not evaluated back to back."""
    while True:
        started = time.monotonic()
        projector.folded.clear()
        try:
            await projector.tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("drift tick failed", error=repr(exc))
        cost = time.monotonic() - started
        await asyncio.sleep(min(seconds, max(EVENT_EVALUATION_GAP, 4 * cost)))
        remaining = seconds - (time.monotonic() - started)
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(projector.folded.wait(), remaining)


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


def read_api() -> APIRouter:
    router = APIRouter(prefix="/v1/workspaces/{workspace}", tags=["read"])

    @router.get("/objectives", summary="Objectives with progress, status, forecast, campaigns")
    async def objectives(
        request: Request, workspace: str, as_of: AsOf = None, known_at: KnownAt = None
    ) -> dict[str, Any]:
        snapshot = await _snapshot(request, workspace, as_of, known_at)
        return {
            "as_of": snapshot.at.isoformat(),
            "objectives": [_objective(o) for o in snapshot.objectives_of(workspace)],
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
        return {"as_of": snapshot.at.isoformat(), **_objective(found)}

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

    return router


def _moment(request: Request, as_of: str | None, known_at: str | None) -> Moment:
    try:
        return parse_moment(request.app.state.clock(), as_of, known_at)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _projector(request: Request) -> Projector:
    projector: Projector | None = request.app.state.projector.get("projector")
    if projector is None:
        raise HTTPException(503, "projection is loading")
    return projector


async def _snapshot(
    request: Request, workspace: str, as_of: str | None, known_at: str | None
) -> Snapshot:
    projector = _projector(request)
    moment = _moment(request, as_of, known_at)
    if moment.live:
        return projector.snapshot
    return await past_snapshot(request.app.state.engine, moment, workspace)


async def _drift_entries(request: Request, workspace: str, moment: Moment) -> list[DriftEntry]:
    _projector(request)
    engine = request.app.state.engine

    def read() -> list[DriftEntry]:
        with engine.connect() as connection:
            return drift_entries(connection, workspace, moment)

    return await asyncio.to_thread(read)


def _objective(o: ObjectiveSnapshot) -> dict[str, Any]:
    body = {f.name: getattr(o, f.name) for f in fields(o)}
    body["campaigns"] = [asdict(c) for c in o.campaigns]
    body["start"] = o.start.isoformat()
    body["deadline"] = o.deadline.isoformat()
    body["spend_by_channel"] = dict(o.spend_by_channel)
    return body
