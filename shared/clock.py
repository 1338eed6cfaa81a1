"""The process clock: wall time, or an accelerated one for the demo's simulated quarter
(TRUENORTH_CLOCK_ORIGIN + TRUENORTH_CLOCK_SPEED), shared by every service so that event
timestamps, pace and time-based drift agree."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from truenorth.contract.envelope import set_clock, utcnow
from truenorth.settings import SharedSettings


class AcceleratedClock:
    """Starts at `origin` and runs `speed` times faster than the wall clock."""

    def __init__(self, origin: datetime, speed: float, started: float | None = None) -> None:
        self.origin = origin
        self.speed = speed
        self.started = time.time() if started is None else started

    def __call__(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.started) * self.speed)


def configure_clock(shared: SharedSettings) -> Callable[[], datetime]:
    if shared.clock_origin is None and shared.clock_speed == 1:
        set_clock(None)
        return utcnow
    origin = shared.clock_origin or utcnow()
    started = shared.clock_started_at.timestamp() if shared.clock_started_at else None
    clock = AcceleratedClock(origin, shared.clock_speed, started)
    set_clock(clock)
    return clock
