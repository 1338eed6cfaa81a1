"""Keeps the objective directory in step with the STRATEGY stream.

Replays the stream at start, then polls the stream head (one cheap `stream_info` call per
tick) and reads whatever is new. `catch_up()` is also called on demand before a command is
refused for an unknown objective, because the strategy service may have just appended it.
Polling rather than a long-lived push/pull subscription sidesteps stalled subscriptions after
a server restart (nats.py #504); `health()` reports when the last successful read is too old.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import STRATEGY
from truenorth.campaigns.domain import ObjectiveDirectory
from truenorth.contract.registry import decode

log = structlog.get_logger()


class StrategyFollower:
    def __init__(
        self,
        store: Callable[[], EventStore],
        directory: ObjectiveDirectory | None = None,
        interval: float = 1.0,
        stale_after: float = 30.0,
    ) -> None:
        self._store = store
        self.directory = directory or ObjectiveDirectory()
        self.interval = interval
        self.stale_after = stale_after
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.last_ok = 0.0
        self.last_error = ""

    async def catch_up(self) -> int:
        """Apply everything appended since the last position; returns how many events."""
        async with self._lock:
            applied = 0
            async for msg in self._store().read_raw(
                STRATEGY.name, from_sequence=self.directory.position + 1
            ):
                sequence = msg.metadata.sequence.stream
                try:
                    event = decode(msg.data)
                except Exception as exc:  # a newer shape we cannot read: skip, do not stall
                    log.warning("undecodable strategy event", sequence=sequence, error=str(exc))
                    self.directory.position = max(self.directory.position, sequence)
                    continue
                self.directory.apply(event, sequence)
                applied += 1
            self.last_ok = time.monotonic()
            return applied

    async def start(self) -> None:
        await self.catch_up()
        self._task = asyncio.create_task(self._follow(), name="strategy-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.catch_up()
                self.last_error = ""
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down etc.: keep trying, health reports it
                self.last_error = f"{type(exc).__name__}: {exc}"

    def health(self) -> tuple[bool, str]:
        age = time.monotonic() - self.last_ok if self.last_ok else float("inf")
        if age > self.stale_after:
            return False, f"strategy stream not read for {age:.0f}s {self.last_error}".strip()
        return True, f"at STRATEGY sequence {self.directory.position}"
