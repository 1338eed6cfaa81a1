"""When the projector publishes its outbox: not before it answers, one page at a time, and
what it tells of the events still waiting."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any
from unittest.mock import AsyncMock, MagicMock

from prometheus_client import CollectorRegistry

from tests.unit.alignment.builders import day
from tests.unit.alignment.world import memory_engine
from truenorth import metric_names as m
from truenorth.alignment import projector as projector_module
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector
from truenorth.store.db import migrate


async def test_a_restart_answers_while_its_outbox_is_still_going_out(monkeypatch: Any) -> None:
    """A restart after a tick that opened 100 000 drifts has that many events to send: the
    service starts (health, /metrics) meanwhile, and a tick's own publishing waits its turn."""
    engine = memory_engine()
    migrate(engine)
    projector = Projector(
        MagicMock(), engine, PipelineMetrics.register(CollectorRegistry()), lambda: day(1)
    )
    sending, sent = asyncio.Event(), asyncio.Event()
    publishing: list[str] = []

    async def publish(*args: Any) -> None:
        publishing.append("start")
        sending.set()
        await sent.wait()
        publishing.append("end")

    monkeypatch.setattr(projector_module, "publish_outbox", publish)
    for step in ("_subscribe", "_consume", "_snapshots"):
        monkeypatch.setattr(projector, step, AsyncMock())

    await asyncio.wait_for(projector.start(), timeout=1)
    await asyncio.wait_for(sending.wait(), timeout=1)
    after_a_tick = asyncio.create_task(projector._publish_outbox())
    await asyncio.sleep(0.05)
    assert publishing == ["start"]

    sent.set()
    await asyncio.wait_for(after_a_tick, timeout=1)
    assert publishing == ["start", "end", "start", "end"]
    for task in projector._tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_oldest_event_still_waiting_is_exported_until_it_goes_out(
    monkeypatch: Any,
) -> None:
    """`TruenorthDriftEventsUnpublished` fires on it: drifts the strategy inbox never sees."""
    registry = CollectorRegistry()
    projector = Projector(
        MagicMock(), memory_engine(), PipelineMetrics.register(registry), lambda: day(1)
    )
    oldest = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(projector_module, "publish_outbox", AsyncMock(return_value=oldest))
    await projector._publish_outbox()
    assert registry.get_sample_value(m.DRIFT_OUTBOX_OLDEST) == oldest.timestamp()

    monkeypatch.setattr(projector_module, "publish_outbox", AsyncMock(return_value=None))
    await projector._publish_outbox()
    assert registry.get_sample_value(m.DRIFT_OUTBOX_OLDEST) == 0
