"""When drift is evaluated: never back to back, however long an evaluation takes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from truenorth.alignment.ticks import tick_forever


class SlowProjector:
    """Ticks that judge for `cost` seconds, then wait `waiting` on the bus (publishing, stream
    observation): a NATS node down makes those waits time out."""

    def __init__(self, cost: float, waiting: float = 0.0) -> None:
        self.cost = cost
        self.waiting = waiting
        self.folded = asyncio.Event()
        self.first_build = asyncio.Event()
        self.first_build.set()
        self.started: list[float] = []

    async def tick(self) -> float:
        self.started.append(time.monotonic())
        await asyncio.sleep(self.cost)
        await asyncio.sleep(self.waiting)
        return self.cost


async def evaluations(
    cost: float, period: float, watched: float, spacing: float = 4.0, waiting: float = 0.0
) -> list[float]:
    """When each evaluation started, ticking for `watched` seconds."""
    projector = SlowProjector(cost, waiting)
    ticking = asyncio.create_task(tick_forever(projector, seconds=period, spacing=spacing))
    await asyncio.sleep(watched)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    return projector.started


async def test_an_evaluation_longer_than_the_period_waits_four_times_its_cost() -> None:
    # at 10 000 objectives an evaluation takes ~25 s against a 5 s period: evaluated back to
    # back, the service spent most of a core judging an idle projection
    started = await evaluations(cost=0.2, period=0.3, watched=2.2)
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert gaps, "it evaluated at least twice"
    assert min(gaps) >= 0.2 + 4 * 0.2 - 0.01


async def test_a_tick_waiting_on_the_bus_is_not_spaced_as_if_it_had_judged() -> None:
    # a tick whose stream observation timed out while NATS restarted took seconds: spaced by
    # four times that, the next tick (which re-creates a deleted consumer) came too late
    started = await evaluations(cost=0.0, period=0.3, watched=2.0, waiting=0.3)
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert len(gaps) >= 2
    assert max(gaps) < 0.3 + 4 * 0.3 - 0.3


async def test_a_cheap_evaluation_runs_every_period() -> None:
    assert len(await evaluations(cost=0.0, period=0.6, watched=1.5)) >= 2


async def test_a_period_shorter_than_the_event_gap_is_kept() -> None:
    # the demo's lockstep ticks every 0.05 s and waits for each evaluation
    assert len(await evaluations(cost=0.0, period=0.05, watched=0.5)) >= 4


async def test_without_cost_spacing_an_evaluation_follows_the_period_alone() -> None:
    # the demo's lockstep waits for an evaluation at every step: four times a ~30 ms
    # evaluation between steps doubled its time
    started = await evaluations(cost=0.2, period=0.3, watched=1.6, spacing=0)
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert len(gaps) >= 2
    assert all(0.5 - 0.01 <= gap < 0.2 + 4 * 0.2 - 0.1 for gap in gaps)


async def test_the_first_evaluation_waits_for_the_first_snapshot_build() -> None:
    projector = SlowProjector(cost=0.0)
    projector.first_build.clear()
    ticking = asyncio.create_task(tick_forever(projector, seconds=0.05, spacing=0))
    await asyncio.sleep(0.2)
    assert projector.started == []
    projector.first_build.set()
    await asyncio.sleep(0.1)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    assert projector.started
