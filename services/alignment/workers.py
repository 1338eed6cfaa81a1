"""Run the partitions this worker holds a lease on: one task per partition, started when its
lease is acquired and stopped when it is lost, handed over or the worker stops.

`run_partition(partition, epoch, stop)` is the projector's entry point for one partition: it
should record its epoch first (`truenorth.store.fencing.claim`), guard every commit with it
(`guard`, inside the batch's transaction), and return soon after `stop` is set. Raising
`FencedOut` means another worker owns the partition now: the lease is forgotten, not
released. Any other exception releases the lease so that some worker retries the partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.aio.client import Client as NatsClient

from truenorth.bus.lease import (
    Changes,
    Lease,
    LeaseKeeper,
    LeaseStore,
    LeaseTiming,
    provision_lease_buckets,
)
from truenorth.store.fencing import FencedOut

log = structlog.get_logger("truenorth.alignment.workers")

RunPartition = Callable[[int, int, asyncio.Event], Coroutine[Any, Any, None]]
WATCHDOG_SECONDS = 0.1


@dataclass
class Running:
    lease: Lease
    stop: asyncio.Event
    task: asyncio.Task[None]


@dataclass
class PartitionWorker:
    keeper: LeaseKeeper
    run_partition: RunPartition
    stop_timeout: float = 10.0
    """How long a partition may take to finish its batch once asked to stop."""
    running: dict[int, Running] = field(default_factory=dict)
    handing_over: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    """Partitions being stopped before their lease is handed back: in the background, so the
    tick goes on renewing the other leases (and this one until it is released)."""

    @property
    def worker(self) -> str:
        return self.keeper.worker

    def owned(self) -> dict[int, int]:
        """Partition → epoch of the leases held now (for /metrics)."""
        return {p: lease.epoch for p, lease in sorted(self.keeper.held.items())}

    async def run(self, stop: asyncio.Event) -> None:
        watchdog = asyncio.create_task(self._watchdog(stop))
        try:
            while not stop.is_set():
                await self._apply(await self.keeper.tick())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._pause())
        finally:
            watchdog.cancel()
            await asyncio.gather(*self.handing_over.values(), return_exceptions=True)
            await asyncio.gather(*(self._stop(p) for p in list(self.running)))
            await self.keeper.leave()
            log.info("worker left", worker=self.worker)

    def _pause(self) -> float:
        """Faster ticks while free partitions are waiting for an owner."""
        timing = self.keeper.store.timing
        return timing.renew_every / 4 if self.keeper.free_since else timing.renew_every

    async def _watchdog(self, stop: asyncio.Event) -> None:
        """Stops a partition the moment its lease runs out locally, even while a tick is
        stuck on an unreachable NATS node."""
        while not stop.is_set():
            for partition in self.keeper.lapse_expired():
                log.warning("lease lapsed", worker=self.worker, partition=partition)
                self._signal(partition)
            await asyncio.sleep(WATCHDOG_SECONDS)

    async def _apply(self, changes: Changes) -> None:
        for partition in changes.lost:
            log.warning("lease lost", worker=self.worker, partition=partition)
            self._signal(partition)
        for lease in changes.surplus:
            if lease.partition not in self.handing_over:
                task = asyncio.create_task(self._hand_over(lease.partition))
                self.handing_over[lease.partition] = task
        await self._reap()
        for lease in changes.acquired:
            if lease.partition in self.handing_over:
                await self.handing_over[lease.partition]
            await self._start(lease)

    async def _hand_over(self, partition: int) -> None:
        try:
            await self._stop(partition)
            await self.keeper.release(partition)
            log.info("partition handed over", worker=self.worker, partition=partition)
        finally:
            del self.handing_over[partition]

    def _signal(self, partition: int) -> None:
        running = self.running.get(partition)
        if running is not None:
            running.stop.set()

    async def _start(self, lease: Lease) -> None:
        previous = self.running.get(lease.partition)
        if previous is not None:  # a lapsed lease resumed: the old run must be over first
            await self._stop(lease.partition)
        stop = asyncio.Event()
        task = asyncio.create_task(self.run_partition(lease.partition, lease.epoch, stop))
        self.running[lease.partition] = Running(lease, stop, task)
        log.info(
            "partition started", worker=self.worker, partition=lease.partition, epoch=lease.epoch
        )

    async def _stop(self, partition: int) -> None:
        running = self.running.pop(partition, None)
        if running is None:
            return
        running.stop.set()
        done, _ = await asyncio.wait({running.task}, timeout=self.stop_timeout)
        if not done:
            log.error("partition did not stop in time: cancelled", partition=partition)
            running.task.cancel()
            with contextlib.suppress(BaseException):
                await running.task

    async def _reap(self) -> None:
        """Partitions whose run ended on its own: fenced out, failed or stopped."""
        for partition, running in list(self.running.items()):
            if not running.task.done():
                continue
            del self.running[partition]
            error = None if running.task.cancelled() else running.task.exception()
            if isinstance(error, FencedOut):
                log.warning("fenced out", worker=self.worker, partition=partition, error=str(error))
                self.keeper.forget(partition)
            elif running.stop.is_set():
                continue  # asked to stop: lost or handed over, already dealt with
            else:
                log.error("partition run ended", partition=partition, error=repr(error))
                await self.keeper.release(partition)


async def start_worker(
    nc: NatsClient,
    partitions: int,
    run_partition: RunPartition,
    *,
    timing: LeaseTiming | None = None,
    replicas: int = 1,
    worker_id: str | None = None,
) -> PartitionWorker:
    """A worker on its own lease buckets (created if missing: needs stream-create rights,
    else provision them first with `provision_lease_buckets`)."""
    timing = timing or LeaseTiming()
    js = nc.jetstream(timeout=min(2.0, timing.renew_every * 2))
    leases, workers = await provision_lease_buckets(js, timing.ttl, replicas)
    store = LeaseStore(js, leases, workers, worker_id or f"w-{uuid.uuid4().hex[:12]}", timing)
    return PartitionWorker(LeaseKeeper(store, partitions), run_partition)
