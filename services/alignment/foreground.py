"""Readers first: work someone is waiting on runs ahead of a drift tick, which nobody waits on.

A fold's commit and the snapshot build after it (what /metrics and the live page serve) and
every reading of the API and the page share the interpreter lock with drift ticks. Side by
side each gets about half of it: a 40 ms build beside a tick took 80-130 ms, and an `as_of`
reading that met a tick ~250 ms instead of ~80. So foreground work says it is `running`, and a
tick gives way at its checkpoints (before each reading of its facts, between objectives,
between findings) until none runs. A tick's SQL lets go of the lock anyway; what waits is its
Python. At 1M events in the log the `as_of` p99 went from 202-273 to 119-182 ms; freshness
moved less (benchmarks/README.md, sixteenth session).

One `Foreground` per process (`PROCESS`): the lock it shares out is the process's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

GIVE_WAY_BUDGET = 2.0
"""Seconds a tick waits for foreground work in all, at most: readers that never stop (a
dashboard polling `as_of` readings back to back) delay drift, they cannot stop it."""


class Foreground:
    def __init__(self) -> None:
        self._running = 0
        self._idle = threading.Condition()

    @property
    def busy(self) -> bool:
        """Whether foreground work runs now."""
        return self._running > 0

    @contextmanager
    def running(self) -> Iterator[None]:
        """Mark foreground work for as long as the block runs."""
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                if self._running == 0:
                    self._idle.notify_all()

    def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` as foreground work: what `asyncio.to_thread` is handed."""
        with self.running():
            return work(*args)

    def giving_way(self, budget: float = GIVE_WAY_BUDGET) -> GiveWay:
        """The checkpoint of one background run (a tick)."""
        return GiveWay(self, budget)

    def wait_idle(self, timeout: float) -> None:
        """Return once no foreground work runs, or after `timeout` seconds."""
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0, timeout=timeout)


class GiveWay:
    """Each call returns once no foreground work runs, having waited `budget` seconds at
    most over all calls; `waited` says how long it did (a tick's cost leaves it out)."""

    def __init__(self, foreground: Foreground, budget: float) -> None:
        self.foreground = foreground
        self.budget = budget
        self.waited = 0.0

    def __call__(self) -> None:
        left = self.budget - self.waited
        if not self.foreground.busy or left <= 0:  # read without the lock: a hint suffices
            return
        started = time.monotonic()
        self.foreground.wait_idle(left)
        self.waited += time.monotonic() - started


async def in_foreground(work: Callable[..., T], *args: object) -> T:
    """`asyncio.to_thread` for work someone is waiting on: it runs ahead of drift ticks."""
    return await asyncio.to_thread(PROCESS.run, work, *args)


def paced(items: Iterable[T], give_way: Callable[[], None]) -> Iterator[T]:
    """`items`, giving way before each."""
    for item in items:
        give_way()
        yield item


def never_wait() -> None:
    """The checkpoint of work that gives way to nothing (tests, tools, a replay)."""


PROCESS = Foreground()
