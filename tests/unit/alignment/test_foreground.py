"""Readers first: a drift tick gives way to folds, snapshot builds and readings, never for
longer than its budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from prometheus_client import CollectorRegistry

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.world import World, memory_engine, moment
from truenorth.alignment import projector as projector_module
from truenorth.alignment import views
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.foreground import PROCESS, Foreground, GiveWay, paced
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.fold import Folded
from truenorth.alignment.views import drift_tick, parse_moment, past_objectives
from truenorth.store.db import migrate


@contextmanager
def foreground_for(foreground: Foreground, seconds: float) -> Iterator[threading.Event]:
    """Foreground work running in another thread for `seconds`; the event is set once it
    has started."""
    started = threading.Event()

    def work() -> None:
        with foreground.running():
            started.set()
            time.sleep(seconds)

    thread = threading.Thread(target=work)
    thread.start()
    started.wait()
    try:
        yield started
    finally:
        thread.join()


def seconds_to(step: Callable[[], None]) -> float:
    began = time.monotonic()
    step()
    return time.monotonic() - began


def test_giving_way_returns_at_once_when_no_foreground_work_runs() -> None:
    assert seconds_to(Foreground().giving_way(budget=5.0)) < 0.05


def test_a_tick_waits_while_a_snapshot_is_being_built() -> None:
    foreground = Foreground()
    give_way = foreground.giving_way(budget=5.0)
    with foreground_for(foreground, 0.3):
        waited = seconds_to(give_way)
    assert 0.2 <= waited < 3.0
    assert give_way.waited == pytest.approx(waited, abs=0.05)
    assert not foreground.busy


def test_a_tick_never_waits_longer_than_its_budget_in_all() -> None:
    foreground = Foreground()
    give_way = foreground.giving_way(budget=0.2)
    with foreground_for(foreground, 1.5):
        first = seconds_to(give_way)
        second = seconds_to(give_way)  # the budget is spent: readers cannot stop drift
    assert 0.15 <= first < 1.0
    assert second < 0.05


def test_foreground_work_that_fails_still_lets_the_tick_go_on() -> None:
    foreground = Foreground()

    def broken() -> None:
        raise RuntimeError("a bug in a build")

    with suppress(RuntimeError):
        foreground.run(broken)
    assert not foreground.busy


def test_paced_gives_way_before_each_item() -> None:
    calls: list[str] = []
    for item in paced(["a", "b"], lambda: calls.append("give way")):
        calls.append(item)
    assert calls == ["give way", "a", "give way", "b"]


def test_a_drift_tick_gives_way_between_objectives_and_between_findings() -> None:
    world = World(
        b.strategy_defined(),
        b.objective_added(),
        b.launched("c-a"),
        *b.daily("c-a", "leads", [1] * 50),
        *b.daily("c-a", "spend", [10] * 50),
    )
    checkpoints: list[int] = []
    committed: list[Any] = []
    drift_tick(
        world.engine,
        day(55),
        committed=committed.extend,
        give_way=lambda: checkpoints.append(1),
    )
    assert committed, "the world drifts: one objective off pace"
    objectives, findings = 1, len(committed)
    assert len(checkpoints) >= objectives + findings


def test_a_projectors_snapshot_build_is_foreground_work() -> None:
    engine = memory_engine()
    migrate(engine)
    projector = Projector(
        MagicMock(), engine, PipelineMetrics.register(CollectorRegistry()), lambda: day(1)
    )
    seen: list[bool] = []

    def build() -> Snapshot:
        seen.append(PROCESS.busy)
        return Snapshot(at=day(1))

    projector.take_snapshot = build  # type: ignore[method-assign]
    projector._build()
    assert seen == [True]
    assert not PROCESS.busy


async def test_a_folded_batch_is_foreground_work(monkeypatch: Any) -> None:
    """What a dashboard waits on is the fold, then the build: both go ahead of a tick."""
    engine = memory_engine()
    migrate(engine)
    projector = Projector(
        MagicMock(), engine, PipelineMetrics.register(CollectorRegistry()), lambda: day(1)
    )
    seen: list[bool] = []

    def commit(*args: Any) -> Folded:
        seen.append(PROCESS.busy)
        return Folded(applied=1)

    monkeypatch.setattr(projector.batches, "_commit", commit)
    msg = MagicMock(subject="tn.acme.strategy.x", data=b"{}")
    msg.metadata.sequence.stream, msg.metadata.num_delivered = 1, 1
    await projector.batches._fold_and_commit("STRATEGY", [msg])
    assert seen == [True]
    assert not PROCESS.busy


async def test_an_as_of_reading_is_foreground_work(monkeypatch: Any) -> None:
    seen: list[bool] = []

    def reading(*args: Any) -> Snapshot:
        seen.append(PROCESS.busy)
        return Snapshot(at=day(1))

    monkeypatch.setattr(views, "_objectives_snapshot", reading)
    moment = parse_moment(day(2), "2025-10-05", None)
    await past_objectives(memory_engine(), moment, "ws")
    assert seen == [True]
    assert not PROCESS.busy


def test_a_ticks_facts_give_way_before_each_reading_they_make() -> None:
    world = World(b.strategy_defined(), b.launched("c-a"), *b.daily("c-a", "spend", [10] * 5))
    checkpoints: list[int] = []
    with world.engine.connect() as connection:
        facts = Facts(connection, b.WS, moment(day(6)), lambda: checkpoints.append(1))
        assert facts.sums("spend", None) == {"c-a": 50.0}
        facts.sums("spend", None)  # kept for the build or tick: not read again
        facts.reports()
    assert len(checkpoints) == 2


async def test_a_ticks_cost_leaves_out_the_time_it_gave_way(monkeypatch: Any) -> None:
    """Ticks are spaced by their cost: counting the time given way to readers, ticks would
    grow rarer the busier the readers."""
    engine = memory_engine()
    migrate(engine)
    projector = Projector(
        MagicMock(), engine, PipelineMetrics.register(CollectorRegistry()), lambda: day(1)
    )
    gave_way: list[float] = []

    def judging(*args: Any, give_way: GiveWay) -> int:
        with foreground_for(PROCESS, 0.4):
            give_way()
        gave_way.append(give_way.waited)
        return 0

    monkeypatch.setattr(projector_module, "drift_tick", judging)
    monkeypatch.setattr(projector, "_publish_outbox", AsyncMock())
    monkeypatch.setattr(projector, "_observe_streams", AsyncMock())
    cost = await projector.tick()
    assert gave_way[0] >= 0.3
    assert cost < 0.2
