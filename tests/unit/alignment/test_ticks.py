"""When drift is evaluated: never back to back, however long an evaluation takes."""

from __future__ import annotations

import asyncio
import contextlib
import time

from truenorth.alignment.ticks import tick_forever


class SlowProjector:
    def __init__(self, cost: float) -> None:
        self.cost = cost
        self.folded = asyncio.Event()
        self.started: list[float] = []

    async def tick(self) -> None:
        self.started.append(time.monotonic())
        await asyncio.sleep(self.cost)


async def test_an_evaluation_longer_than_the_period_waits_four_times_its_cost() -> None:
    # at 10 000 objectives an evaluation takes ~25 s against a 5 s period: evaluated back to
    # back, the service spent most of a core judging an idle projection
    projector = SlowProjector(cost=0.2)
    ticking = asyncio.create_task(tick_forever(projector, seconds=0.3))
    await asyncio.sleep(2.2)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    gaps = [b - a for a, b in zip(projector.started, projector.started[1:], strict=False)]
    assert gaps, "it evaluated at least twice"
    assert min(gaps) >= 0.2 + 4 * 0.2 - 0.01


async def test_a_cheap_evaluation_runs_every_period() -> None:
    projector = SlowProjector(cost=0.0)
    ticking = asyncio.create_task(tick_forever(projector, seconds=0.6))
    await asyncio.sleep(1.5)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    assert len(projector.started) >= 2


async def test_a_period_shorter_than_the_event_gap_is_kept() -> None:
    # the demo's lockstep ticks every 0.05 s and waits for each evaluation
    projector = SlowProjector(cost=0.0)
    ticking = asyncio.create_task(tick_forever(projector, seconds=0.05))
    await asyncio.sleep(0.5)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    assert len(projector.started) >= 4
