"""When drift is evaluated: on a clock and soon after events are folded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

import structlog

log = structlog.get_logger()


class Ticking(Protocol):
    folded: asyncio.Event
    first_build: asyncio.Event

    async def tick(self) -> float:
        """Evaluate, publish, observe the streams; returns how long the evaluation took."""
        ...


EVENT_EVALUATION_GAP = 0.5
"""Seconds at least between drift evaluations triggered by folded events."""


async def tick_forever(projector: Ticking, seconds: float, spacing: float) -> None:
    """Evaluate drift every `seconds` (time-based conditions move without events) and soon
    after events are folded: debounced, at least EVENT_EVALUATION_GAP and `spacing`
    (`TRUENORTH_ALIGNMENT_TICK_COST_SPACING`) times the last evaluation's cost apart, so a
    large projection is not evaluated back to back (at 10 000 objectives an evaluation takes
    ~25 s: it is judged every ~2 minutes, not every 5 s). `spacing` 0: the period alone, for
    the demo's lockstep, which waits for an evaluation at every step (four times a ~30 ms
    evaluation doubled the demo's time).

    The first evaluation waits for the first snapshot build to end: both read the whole
    projection, and side by side at start their temporaries made one peak that the allocator
    kept (benchmarks/README.md, eleventh session); figures are served first, then judged."""
    await projector.first_build.wait()
    while True:
        started = time.monotonic()
        projector.folded.clear()
        # the evaluation's cost, not the tick's: a tick that waited on a NATS timeout would
        # otherwise hold back the next one, and its stall check, for four times that wait
        cost = 0.0
        try:
            cost = await projector.tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("drift tick failed", error=repr(exc))
        await asyncio.sleep(max(min(seconds, EVENT_EVALUATION_GAP), spacing * cost))
        remaining = seconds - (time.monotonic() - started)
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(projector.folded.wait(), remaining)
