"""The process clock: wall time, an accelerated one (TRUENORTH_CLOCK_ORIGIN +
TRUENORTH_CLOCK_SPEED), or a stepped one read from a file (TRUENORTH_CLOCK_FILE, the demo's
deterministic quarter), shared by every service so that event timestamps, pace and time-based
drift agree."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


class SteppedClock:
    """Simulated time read from a file that one driver writes (`truenorth demo`): every
    process reading the file sees the same now, and it moves only when the driver steps it,
    so what the services compute does not depend on how fast they ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        try:
            micros = int(self.path.read_text(encoding="ascii"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"stepped clock {self.path} is unreadable: {exc}") from exc
        return _EPOCH + timedelta(microseconds=micros)

    def set(self, moment: datetime) -> None:
        """Step to `moment`: written whole then renamed, so a reader never sees half a value."""
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(str(micros), encoding="ascii")
        os.replace(partial, self.path)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def configure_clock(shared: SharedSettings) -> Callable[[], datetime]:
    if shared.clock_file is not None:
        stepped = SteppedClock(shared.clock_file)
        set_clock(stepped)
        return stepped
    if shared.clock_origin is None and shared.clock_speed == 1:
        set_clock(None)
        return utcnow
    origin = shared.clock_origin or utcnow()
    started = shared.clock_started_at.timestamp() if shared.clock_started_at else None
    clock = AcceleratedClock(origin, shared.clock_speed, started)
    set_clock(clock)
    return clock
