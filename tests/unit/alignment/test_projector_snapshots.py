"""The projector's snapshot loop: /metrics must never freeze because one build failed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

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
        assert projector.first_build.is_set()  # drift is judged even if no build succeeds
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
