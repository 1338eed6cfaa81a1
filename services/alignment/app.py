"""The alignment service: projector + drift ticks + Prometheus exposition + read API."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from datetime import datetime

import structlog
from fastapi import FastAPI

from truenorth.alignment.api import read_router
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.exposition import render_exposition, select
from truenorth.alignment.page import PAGE_PATHS, web_router
from truenorth.alignment.partitioned import PartitionedAlignment
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector
from truenorth.alignment.ticks import tick_forever
from truenorth.alignment.whatif_api import whatif_router
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
    partitioned: dict[str, PartitionedAlignment] = {}

    loading = render_exposition(Snapshot(at=clock()))  # every family declared, no samples yet

    def current_exposition(names: frozenset[str] | None) -> list[bytes]:
        if "workers" in partitioned:
            return select(partitioned["workers"].exposition(), names)
        projector = holder.get("projector")
        return select(projector.exposition if projector else loading, names)

    runtime.expositions.append(current_exposition)

    async def on_start(rt: Runtime) -> None:
        await asyncio.to_thread(migrate, engine)
        if settings.partitioned:
            workers = PartitionedAlignment(rt.nc, engine, metrics, clock, settings, shared)
            await workers.start()
            partitioned["workers"] = workers
            rt.checks["consumers"] = lambda: _consumers_flowing(workers)
            _freeze_start_up()
            return
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
        rt.state["ticker"] = asyncio.create_task(
            tick_forever(projector, settings.tick_seconds, settings.tick_cost_spacing)
        )
        rt.checks["consumers"] = lambda: _consumers_flowing(projector)
        _freeze_start_up()

    async def on_stop(rt: Runtime) -> None:
        ticker = rt.state.get("ticker")
        if ticker is not None:
            ticker.cancel()
            await asyncio.wait([ticker], timeout=settings.shutdown_grace_seconds)
        if "workers" in partitioned:
            await partitioned["workers"].stop()
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
        open_pages=PAGE_PATHS,
    )
    app.state.projector = holder
    app.state.partitioned = partitioned
    app.state.clock = clock
    app.state.engine = engine
    app.include_router(read_router)
    app.include_router(whatif_router)
    app.include_router(web_router())
    return app


def _consumers_flowing(projector: Projector | PartitionedAlignment) -> tuple[bool, str]:
    stalled = projector.stalled_streams()
    return (not stalled, "stalled: " + ", ".join(stalled) if stalled else "flowing")


def _freeze_start_up() -> None:
    """Leave what start-up made (imports, the app, settings: ~150 000 objects) out of every
    later garbage collection: it lives as long as the process, and a full collection walked
    it every ~4 s at 2 000 events/s, 60–95 ms with the interpreter lock held, stalling the
    fold and the snapshot build alike; 4–8 ms after (benchmarks/README.md, thirteenth
    session)."""
    gc.collect()
    gc.freeze()
