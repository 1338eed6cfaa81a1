"""The projector's snapshot loop: /metrics must never freeze because one build failed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector

AT = datetime(2025, 11, 1, tzinfo=UTC)


async def test_a_failing_snapshot_build_keeps_the_last_snapshot_and_retries_on_change() -> None:
    projector = Projector(
        MagicMock(),
        create_engine("sqlite://"),
        PipelineMetrics.register(CollectorRegistry()),
        lambda: AT,
    )
    served = projector.families
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
        assert builds == [1] and projector.families is served  # the last one is still served
        projector._snapshot_dirty.set()
        await asyncio.sleep(0.2)
        assert len(builds) == 2  # the loop survived the failure
        assert projector.families is not served
    finally:
        loop.cancel()
