"""Playing the quarter in lockstep with the alignment service, so a seed gives one history.

The services run on a stepped clock (`truenorth.clock.SteppedClock`): simulated time stands still
until the driver moves it. The alignment service evaluates drift at its clock's now, on a short
tick and after each fold, so with the clock free-running (the earlier accelerated clock) which
states were evaluated depended on wall-clock timing: a transient condition — an objective
reading off pace before its first report lands, a campaign silent while the driver lagged under
load — was caught in one run and missed in the next (11 drifts once, 8 the next time).

In lockstep, for each action at simulated time t:

1. step the clock to t and wait for an evaluation at t: the state before the action, at t;
2. send the action (its events are stored as one atomic batch in one stream) and wait until
   the projection's checkpoint reaches the stream heads;
3. step the clock one microsecond on and wait for an evaluation there: the state after it.

Every evaluation the service makes is of one of these (state, time) pairs, or of the state after
an action at t (equal to the pair of step 3 but for one microsecond), so the drift history is a
function of the seed alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from truenorth import metric_names as m
from truenorth.clock import SteppedClock

AFTER = timedelta(microseconds=1)
"""How far step 3 moves the clock past the action."""
TICK_SECONDS = 0.05
"""The alignment's drift tick in lockstep: each step waits for one evaluation."""
SOURCE_STREAMS = ("STRATEGY", "CAMPAIGNS", "METRICS")
"""The streams the alignment projection folds."""
_RESOLUTION = 5e-7
"""Seconds: a Unix time as a float is exact to ~2.4e-7 s in this century."""


class LockstepTimeout(RuntimeError):
    """The alignment service did not reach a step in time (one line, for the CLI)."""


class Lockstep:
    def __init__(
        self,
        clock: SteppedClock,
        http: httpx.Client,
        alignment_url: str,
        monitor_url: str,
        timeout: float = 60.0,
        poll: float = 0.01,
        alive: Callable[[], None] = lambda: None,
    ) -> None:
        self.clock = clock
        self.http = http
        self.alignment_url = alignment_url
        self.monitor_url = monitor_url
        self.timeout = timeout
        self.poll = poll
        self.alive = alive
        """Raises when a service died: no point waiting for it."""

    def step(self, moment: datetime) -> None:
        """Move the clock to `moment` and return once the alignment evaluated drift there."""
        self.clock.set(moment)
        target = moment.timestamp() - _RESOLUTION
        self._wait(lambda: self._last_tick() >= target, f"a drift evaluation at {moment}")

    def folded(self) -> None:
        """Return once the projection holds every event stored so far."""
        heads = self.stream_heads()
        self._wait(
            lambda: all(self._applied().get(s, 0) >= head for s, head in heads.items()),
            f"the projection to reach {heads}",
        )

    def stream_heads(self) -> dict[str, int]:
        """Last sequence of each source stream, from the embedded server's monitoring port."""
        response = self.http.get(
            f"{self.monitor_url}/jsz", params={"accounts": "true", "streams": "true"}
        )
        response.raise_for_status()
        heads = {name: 0 for name in SOURCE_STREAMS}
        for account in response.json().get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] in heads:
                    heads[stream["name"]] = int(stream["state"]["last_seq"])
        return heads

    def _wait(self, reached: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not reached():
            self.alive()
            if time.monotonic() > deadline:
                raise LockstepTimeout(f"waited {self.timeout:g}s for {what}")
            time.sleep(self.poll)

    def _samples(self) -> Mapping[str, list[tuple[dict[str, str], float]]]:
        try:
            response = self.http.get(f"{self.alignment_url}/metrics")
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        found: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                found.setdefault(sample.name, []).append((sample.labels, sample.value))
        return found

    def _last_tick(self) -> float:
        samples = self._samples().get(m.LAST_TICK, [])
        return max((value for _, value in samples), default=0.0)

    def _applied(self) -> dict[str, int]:
        samples = self._samples().get(m.LAST_APPLIED_SEQUENCE, [])
        return {labels.get("stream", ""): int(value) for labels, value in samples}
