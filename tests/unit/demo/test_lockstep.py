"""The driver's side of lockstep, against a scripted alignment `/metrics` and monitoring
`/jsz`: a step returns only once the alignment evaluated at the new time, `folded` only once
the projection reached every stream head, and a service that never gets there is a one-line
error instead of a hang."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from truenorth.clock import SteppedClock, configure_clock
from truenorth.contract.envelope import set_clock, utcnow
from truenorth.demo.lockstep import AFTER, Lockstep, LockstepTimeout
from truenorth.settings import SharedSettings

T = datetime(2026, 10, 1, 6, tzinfo=UTC)


class FakeServices:
    """The alignment's pipeline gauges and the server's stream heads, as the driver reads them."""

    def __init__(self, clock: SteppedClock) -> None:
        self.clock = clock
        self.evaluates = True
        self.heads = {"STRATEGY": 3, "CAMPAIGNS": 5, "METRICS": 40}
        self.applied = {"STRATEGY": 3, "CAMPAIGNS": 5, "METRICS": 0}
        self.last_tick = 0.0
        self.scrapes = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jsz":
            streams = [{"name": n, "state": {"last_seq": s}} for n, s in self.heads.items()]
            return httpx.Response(200, json={"account_details": [{"stream_detail": streams}]})
        self.scrapes += 1
        if self.evaluates and self.scrapes >= 3:  # the tick comes a few polls later
            self.last_tick = self.clock().timestamp()
        if self.scrapes >= 3:
            self.applied["METRICS"] = self.heads["METRICS"]
        lines = [f"truenorth_last_tick_timestamp_seconds {self.last_tick!r}"]
        lines += [
            f'truenorth_last_applied_sequence{{stream="{n}"}} {s}' for n, s in self.applied.items()
        ]
        return httpx.Response(200, text="\n".join(lines) + "\n")


def lockstep(tmp_path: Path, timeout: float = 5.0) -> tuple[Lockstep, FakeServices]:
    clock = SteppedClock(tmp_path / "clock")
    clock.set(T)
    services = FakeServices(clock)
    http = httpx.Client(transport=httpx.MockTransport(services.handle))
    return (
        Lockstep(clock, http, "http://alignment", "http://monitor", timeout, poll=0.001),
        services,
    )


def test_a_step_moves_the_clock_and_waits_for_an_evaluation_there(tmp_path: Path) -> None:
    step, services = lockstep(tmp_path)
    step.step(T + AFTER)
    assert step.clock() == T + AFTER
    assert services.last_tick == (T + AFTER).timestamp()
    assert services.scrapes >= 3


def test_folded_waits_until_every_stream_head_is_in_the_projection(tmp_path: Path) -> None:
    step, services = lockstep(tmp_path)
    step.folded()
    assert services.applied == services.heads


def test_an_evaluation_that_never_comes_is_a_clear_error(tmp_path: Path) -> None:
    step, services = lockstep(tmp_path, timeout=0.2)
    services.evaluates = False
    with pytest.raises(LockstepTimeout, match=r"waited 0\.2s for a drift evaluation at 2026-10-01"):
        step.step(T + AFTER)


def test_a_dead_service_stops_the_wait_at_once(tmp_path: Path) -> None:
    step, services = lockstep(tmp_path, timeout=30)
    services.evaluates = False

    def dead() -> None:
        raise RuntimeError("service exited: alignment")

    step.alive = dead
    with pytest.raises(RuntimeError, match="service exited: alignment"):
        step.step(T + AFTER)


def test_every_process_given_the_clock_file_reads_the_time_the_driver_set(tmp_path: Path) -> None:
    driver = SteppedClock(tmp_path / "clock")
    driver.set(T)
    shared = SharedSettings(clock_file=tmp_path / "clock")
    try:
        configure_clock(shared)
        assert utcnow() == T
        driver.set(T + AFTER)
        assert utcnow() == T + AFTER
    finally:
        set_clock(None)


def test_an_unreadable_clock_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"stepped clock .*clock is unreadable"):
        SteppedClock(tmp_path / "clock")()
