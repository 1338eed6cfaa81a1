"""The partition worker loop (`truenorth.alignment.workers`) over a scripted lease keeper:
which runs start and stop, and when leases are released or forgotten."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from truenorth.alignment.workers import PartitionWorker
from truenorth.bus.lease import Changes, Lease, LeaseTiming
from truenorth.store.fencing import FencedOut

TIMING = LeaseTiming(ttl=1.0, renew_every=0.05, margin=0.2)


@dataclass
class Store:
    timing: LeaseTiming = TIMING


@dataclass
class ScriptedKeeper:
    """Hands out the scripted changes tick after tick, and records what the worker did."""

    script: list[Changes]
    worker: str = "w"
    store: Store = field(default_factory=Store)
    held: dict[int, Lease] = field(default_factory=dict)
    free_since: dict[int, float] = field(default_factory=dict)
    ticks: int = 0
    released: list[int] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    lapsing: list[int] = field(default_factory=list)
    left: bool = False

    async def tick(self) -> Changes:
        self.ticks += 1
        changes = self.script.pop(0) if self.script else Changes()
        for lease in changes.acquired:
            self.held[lease.partition] = lease
        return changes

    def lapse_expired(self) -> list[int]:
        lapsed, self.lapsing = self.lapsing, []
        return lapsed

    async def release(self, partition: int) -> None:
        self.held.pop(partition, None)
        self.released.append(partition)

    def forget(self, partition: int) -> None:
        self.held.pop(partition, None)
        self.forgotten.append(partition)

    async def leave(self) -> None:
        self.left = True


def lease(partition: int, epoch: int = 7) -> Lease:
    return Lease(partition, epoch, epoch, valid_until=1e12)


class Runs:
    """A `run_partition` that records its runs and behaves as each test needs."""

    def __init__(self, *, ignore_stop_for: float = 0.0, fail: Exception | None = None) -> None:
        self.started: list[tuple[int, int]] = []
        self.stopped: list[int] = []
        self.ignore_stop_for = ignore_stop_for
        self.fail = fail

    async def __call__(self, partition: int, epoch: int, stop: asyncio.Event) -> None:
        self.started.append((partition, epoch))
        if self.fail is not None:
            raise self.fail
        await stop.wait()
        await asyncio.sleep(self.ignore_stop_for)  # finishing the batch in flight
        self.stopped.append(partition)


async def run_for(worker: PartitionWorker, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_acquired_partitions_run_with_their_epoch_until_the_worker_stops() -> None:
    keeper = ScriptedKeeper([Changes(acquired=[lease(0, 3), lease(2, 5)])])
    runs = Runs()
    await run_for(PartitionWorker(keeper, runs), 0.2)  # type: ignore[arg-type]
    assert sorted(runs.started) == [(0, 3), (2, 5)]
    assert sorted(runs.stopped) == [0, 2]
    assert keeper.left


async def test_a_slow_hand_over_does_not_hold_up_the_renewals() -> None:
    keeper = ScriptedKeeper([Changes(acquired=[lease(0)]), Changes(surplus=[lease(0)])])
    runs = Runs(ignore_stop_for=0.6)
    worker = PartitionWorker(keeper, runs)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.4)
    assert keeper.ticks >= 5, "ticks go on while partition 0 finishes its batch"
    assert keeper.released == []
    await asyncio.sleep(0.5)
    assert keeper.released == [0], "released once its run ended"
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_lost_lease_stops_its_run_and_is_not_released() -> None:
    keeper = ScriptedKeeper([Changes(acquired=[lease(1)]), Changes(lost=[1])])
    runs = Runs()
    await run_for(PartitionWorker(keeper, runs), 0.3)  # type: ignore[arg-type]
    assert runs.stopped == [1]
    assert keeper.released == []


async def test_a_lease_lapsing_between_ticks_stops_its_run_at_once() -> None:
    keeper = ScriptedKeeper([Changes(acquired=[lease(4)])])
    runs = Runs()
    worker = PartitionWorker(keeper, runs)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.1)
    keeper.lapsing = [4]
    await asyncio.sleep(0.15)
    assert runs.stopped == [4]
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_fenced_out_run_forgets_its_lease() -> None:
    keeper = ScriptedKeeper([Changes(acquired=[lease(3)])])
    runs = Runs(fail=FencedOut("alignment", 3, 7, 9))
    await run_for(PartitionWorker(keeper, runs), 0.2)  # type: ignore[arg-type]
    assert keeper.forgotten == [3]
    assert keeper.released == []


async def test_a_failed_run_hands_its_lease_back_for_another_worker() -> None:
    keeper = ScriptedKeeper([Changes(acquired=[lease(5)])])
    runs = Runs(fail=RuntimeError("disk full"))
    await run_for(PartitionWorker(keeper, runs), 0.2)  # type: ignore[arg-type]
    assert keeper.released == [5]
    assert keeper.forgotten == []
