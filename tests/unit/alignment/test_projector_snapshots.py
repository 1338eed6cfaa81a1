"""The projector's snapshot loop: /metrics must never freeze because one build failed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from prometheus_client import CollectorRegistry

from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.exposition import select
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector
from truenorth.store.db import migrate

from . import builders as b
from .world import World, memory_engine

AT = datetime(2025, 11, 1, tzinfo=UTC)


async def test_a_failing_snapshot_build_keeps_the_last_snapshot_and_retries_on_change() -> None:
    engine = memory_engine()
    migrate(engine)
    projector = Projector(
        MagicMock(),
        engine,
        PipelineMetrics.register(CollectorRegistry()),
        lambda: AT,
    )
    served = projector.exposition
    builds: list[Any] = []

    real_build = projector.take_snapshot

    def flaky_build() -> Snapshot:
        builds.append(1)
        if len(builds) == 1:
            raise RuntimeError("a bug in one build")
        return real_build()

    projector.take_snapshot = flaky_build  # type: ignore[method-assign]
    loop = asyncio.create_task(projector._snapshots())
    try:
        projector._snapshot_dirty.set()
        await asyncio.sleep(0.2)
        assert builds == [1] and projector.exposition is served  # the last one is still served
        World(b.strategy_defined(), b.objective_added(), engine=engine)  # a batch commits
        projector._snapshot_dirty.set()
        for _ in range(200):  # a loaded machine may take a while to build it
            if projector.exposition is not served:
                break
            await asyncio.sleep(0.05)
        assert len(builds) == 2  # the loop survived the failure
        assert projector.exposition is not served
        assert b'objective="leads-q4"' in b"".join(select(projector.exposition, None))
    finally:
        loop.cancel()


def off_pace_world() -> World:
    return World(
        b.strategy_defined(),
        b.objective_added(),
        b.launched("c-a"),
        *b.daily("c-a", "leads", [1] * 50),
        *b.daily("c-a", "spend", [10] * 50),
    )


def quiet_projector(world: World, now: datetime) -> Projector:
    projector = Projector(
        MagicMock(), world.engine, PipelineMetrics.register(CollectorRegistry()), lambda: now
    )
    projector._publish_outbox = AsyncMock()  # type: ignore[method-assign]
    projector._observe_streams = AsyncMock()  # type: ignore[method-assign]
    return projector


async def test_a_tick_serves_the_figures_it_judged_drift_on() -> None:
    projector = quiet_projector(off_pace_world(), b.day(55))
    await projector.tick()  # no snapshot rebuild runs: the tick's own snapshot is served
    objective = projector.snapshot.objective(b.WS, "leads-q4")
    assert objective is not None and objective.status == "off_track"
    [drift] = [d.drift for d in projector.snapshot.drifts if d.drift.kind == "objective_off_pace"]
    assert drift.figures["pace"] == pytest.approx(objective.pace, abs=1e-6)  # as stored
    assert b'kind="objective_off_pace"' in b"".join(select(projector.exposition, None))


async def test_a_snapshot_read_earlier_never_replaces_one_read_later() -> None:
    projector = quiet_projector(off_pace_world(), b.day(55))
    earlier, later = projector._next_reading(), projector._next_reading()
    newer = Snapshot(at=b.day(55))
    assert await projector._serve(newer, later)
    assert not await projector._serve(Snapshot(at=b.day(54)), earlier)
    assert projector.snapshot is newer
